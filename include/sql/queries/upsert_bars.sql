-- The staged bars hold one version per key (the sink keeps the latest), so
-- ON CONFLICT touches each row once. Across batches the later fetch wins too;
-- an older revision never overwrites. The sink fills in the column list (the
-- bar's contract and its source) and the SET list (every non-key column).
INSERT INTO market.bars AS b ({columns})
SELECT {columns}
FROM stage_bars
ON CONFLICT (symbol, interval, bar_time) DO UPDATE SET
    {updates},
    loaded_at = now()
WHERE b.fetched_at <= EXCLUDED.fetched_at
