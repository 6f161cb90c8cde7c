-- One symbol's regular-hours daily candles over a date range, with the day moving averages:
-- the market page's chart for ranges too long for intraday bars.
SELECT d.session_date, d.open, d.high, d.low, d.close, d.volume, m.ma_20d, m.ma_50d, m.ma_200d
FROM reporting.daily_bars AS d
JOIN reporting.daily_metrics AS m USING (symbol, interval, session_date)
WHERE d.symbol = %(symbol)s AND d.hours = 'regular' AND d.session_date BETWEEN %(start)s AND %(end)s
ORDER BY d.session_date
