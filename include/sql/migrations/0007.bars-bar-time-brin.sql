-- market.bars answers per-symbol questions through its primary key (symbol, interval, bar_time)
-- and "every symbol between two times" through an index on bar_time. As a btree that index
-- also offers bar_time order, and at a million bars the planner took it for per-symbol
-- "the last bar before" lookups (the dividend's close in adjustment_factors, the newest bar),
-- walking it backwards past every other symbol's bars: 54 s to refresh adjustment_factors at
-- 1M bars, growing with the table. A BRIN index gives no order, so those lookups take the
-- primary key; it still narrows a time range to the blocks that hold it, because bars are
-- written in time order per batch, and it is a few pages instead of ~14 MB per million bars.
-- The measurements: BENCHMARKS.md, the history section (`python -m bench --only history`).
DROP INDEX market.bars_bar_time_idx;
CREATE INDEX bars_bar_time_brin ON market.bars USING brin (bar_time);
