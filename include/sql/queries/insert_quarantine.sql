INSERT INTO market.quarantine (source_topic, source_partition, source_offset, message_key, raw_value, reason)
SELECT source_topic, source_partition, source_offset, message_key, raw_value, reason
FROM stage_quarantine
ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING
