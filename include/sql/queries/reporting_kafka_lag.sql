SELECT query_name, topic, partition, lag_at_check, still_unloaded, checked_at_utc
FROM reporting.kafka_lag
ORDER BY query_name, topic, partition
