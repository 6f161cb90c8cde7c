-- The newest bars per symbol, for the demo and a quick look. Each (symbol, interval) is found by
-- a skip scan of the primary key, then its newest bars read from it: a few index probes per
-- series however many bars the table holds (a window over every bar took a second per million).
WITH RECURSIVE series AS (
    (SELECT symbol, interval FROM market.bars ORDER BY symbol, interval LIMIT 1)
    UNION ALL
    SELECT following.symbol, following.interval
    FROM series
    CROSS JOIN LATERAL (SELECT b.symbol, b.interval FROM market.bars AS b
                        WHERE (b.symbol, b.interval) > (series.symbol, series.interval)
                        ORDER BY b.symbol, b.interval LIMIT 1) AS following
)
SELECT newest.symbol, newest.interval, newest.bar_time, newest.open, newest.high, newest.low, newest.close,
       newest.volume
FROM series
CROSS JOIN LATERAL (SELECT b.* FROM market.bars AS b
                    WHERE b.symbol = series.symbol AND b.interval = series.interval
                    ORDER BY b.bar_time DESC LIMIT %(per_symbol)s) AS newest
ORDER BY newest.symbol, newest.interval, newest.bar_time
