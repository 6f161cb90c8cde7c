-- Dividends for the history benchmark's symbols, so the refreshes adjust as they do for real
-- ones: 0.25 a share on the first session of each February, May, August and November.
INSERT INTO market.dividends (symbol, ex_dividend_date, amount, fetched_at)
SELECT 'H' || lpad(n::text, 2, '0'), min(s.session_date), 0.25, now()
FROM generate_series(1, %(symbols)s) AS n
CROSS JOIN market.trading_sessions AS s
WHERE s.session_date > %(first_day)s AND s.session_date <= %(last_day)s
  AND extract(month FROM s.session_date) IN (2, 5, 8, 11)
GROUP BY n, date_trunc('month', s.session_date);
