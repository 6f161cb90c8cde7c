INSERT INTO market.ingest_offsets (query_name, topic, partition, next_offset)
VALUES (%(query_name)s, %(topic)s, %(partition)s, %(next_offset)s)
ON CONFLICT (query_name, topic, partition) DO UPDATE SET
    next_offset = greatest(market.ingest_offsets.next_offset, EXCLUDED.next_offset),
    updated_at = now()
