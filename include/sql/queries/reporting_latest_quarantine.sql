SELECT quarantined_at_utc, reason, source_topic, source_partition, source_offset, message_key
FROM reporting.quarantine
ORDER BY quarantined_at_utc DESC, quarantine_id DESC
LIMIT %(limit)s
