-- The newest bars per symbol, for the demo and a quick look.
SELECT symbol, interval, bar_time, open, high, low, close, volume
FROM (
    SELECT b.*, row_number() OVER (PARTITION BY symbol, interval ORDER BY bar_time DESC) AS rank
    FROM market.bars AS b
) AS ranked
WHERE rank <= %(per_symbol)s
ORDER BY symbol, interval, bar_time
