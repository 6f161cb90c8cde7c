-- A batch may hold one bar several times (re-fetched, revised): ON CONFLICT
-- cannot touch a row twice in one statement, so keep the latest fetch first.
-- Across batches the later fetch wins too; an older revision never overwrites.
INSERT INTO market.bars AS b (
    symbol, interval, bar_time, open, high, low, close, volume, fetched_at,
    source_topic, source_partition, source_offset
)
SELECT DISTINCT ON (symbol, interval, bar_time)
    symbol, interval, bar_time, open, high, low, close, volume, fetched_at,
    source_topic, source_partition, source_offset
FROM stage_bars
ORDER BY symbol, interval, bar_time, fetched_at DESC, source_partition DESC, source_offset DESC
ON CONFLICT (symbol, interval, bar_time) DO UPDATE SET
    open = EXCLUDED.open,
    high = EXCLUDED.high,
    low = EXCLUDED.low,
    close = EXCLUDED.close,
    volume = EXCLUDED.volume,
    fetched_at = EXCLUDED.fetched_at,
    source_topic = EXCLUDED.source_topic,
    source_partition = EXCLUDED.source_partition,
    source_offset = EXCLUDED.source_offset,
    loaded_at = now()
WHERE b.fetched_at <= EXCLUDED.fetched_at
