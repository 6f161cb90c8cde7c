-- One symbol's bars over a time range, with the period moving averages: the market page's chart.
SELECT bar_time_utc, bar_time_et, session_part, f.open, f.high, f.low, f.close, f.volume, m.ma_20, m.ma_50
FROM reporting.fact_bars AS f
LEFT JOIN reporting.bar_metrics AS m USING (symbol, interval, bar_time_utc)
WHERE symbol = %(symbol)s AND bar_time_utc >= %(start)s AND bar_time_utc < %(end)s
ORDER BY bar_time_utc
