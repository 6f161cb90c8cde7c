INSERT INTO market.ingest_batches (query_name, batch_id, offset_ranges, messages, bars_upserted, rows_quarantined)
VALUES (%(query_name)s, %(batch_id)s, %(offset_ranges)s, %(messages)s, %(bars_upserted)s, %(rows_quarantined)s)
