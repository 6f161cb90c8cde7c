-- One symbol's regular-hours daily candles over a date range, as traded and split-adjusted, with
-- the day moving averages (of the split-adjusted closes): the market page's chart for ranges too
-- long for intraday bars.
SELECT d.session_date, d.open, d.high, d.low, d.close, d.volume,
       d.open_adj, d.high_adj, d.low_adj, d.close_adj, d.volume_adj, m.ma_20d, m.ma_50d, m.ma_200d
FROM reporting.daily_bars AS d
JOIN reporting.daily_metrics AS m USING (symbol, interval, session_date)
WHERE d.symbol = %(symbol)s AND d.hours = 'regular' AND d.session_date BETWEEN %(start)s AND %(end)s
ORDER BY d.session_date
