-- What a drain query committed after a batch id (-1: ever): its batches, messages, bars upserted,
-- rows quarantined and last batch id. The drain task reads it before and after its launch, so its
-- log says what the launch loaded wherever the sink ran.
SELECT count(*)                        AS batches,
       coalesce(sum(messages), 0)         AS messages,
       coalesce(sum(bars_upserted), 0)    AS bars_upserted,
       coalesce(sum(rows_quarantined), 0) AS rows_quarantined,
       coalesce(max(batch_id), %(after_batch_id)s) AS last_batch_id
FROM market.ingest_batches
WHERE query_name = %(query_name)s AND batch_id > %(after_batch_id)s
