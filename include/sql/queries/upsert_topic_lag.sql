INSERT INTO market.topic_lag (query_name, topic, partition, end_offset, committed_offset, checked_at)
VALUES (%(query_name)s, %(topic)s, %(partition)s, %(end_offset)s, %(committed_offset)s, %(checked_at)s)
ON CONFLICT (query_name, topic, partition) DO UPDATE SET
    end_offset = EXCLUDED.end_offset, committed_offset = EXCLUDED.committed_offset,
    checked_at = EXCLUDED.checked_at
