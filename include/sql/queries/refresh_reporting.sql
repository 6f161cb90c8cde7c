-- The reporting layer's materialized views, in dependency order (the adjustment factors feed
-- fact_bars, which every other one reads; daily_metrics reads daily_bars). CONCURRENTLY: readers
-- keep the previous contents while a refresh runs.
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.adjustment_factors;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.bar_metrics;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.daily_bars;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.daily_metrics;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.dim_symbol;
