-- One symbol's intraday bars over a time range, as traded and split-adjusted, with the period
-- moving averages (of the split-adjusted closes): the market page's chart for short ranges.
SELECT f.bar_time_et, f.session_part, f.open, f.high, f.low, f.close, f.volume,
       f.open_adj, f.high_adj, f.low_adj, f.close_adj, f.volume_adj, m.ma_20, m.ma_50
FROM reporting.fact_bars AS f
LEFT JOIN reporting.bar_metrics AS m USING (symbol, interval, bar_time_utc)
WHERE f.symbol = %(symbol)s AND f.bar_time_utc >= %(start)s AND f.bar_time_utc < %(end)s
ORDER BY f.bar_time_utc
