-- One symbol's intraday bars over a time range, with the period moving averages: the market
-- page's chart for short ranges.
SELECT f.bar_time_et, f.session_part, f.open, f.high, f.low, f.close, f.volume, m.ma_20, m.ma_50
FROM reporting.fact_bars AS f
LEFT JOIN reporting.bar_metrics AS m USING (symbol, interval, bar_time_utc)
WHERE f.symbol = %(symbol)s AND f.bar_time_utc >= %(start)s AND f.bar_time_utc < %(end)s
ORDER BY f.bar_time_utc
