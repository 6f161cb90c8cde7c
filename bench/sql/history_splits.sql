-- A 2-for-1 split on the first session of 2016 for every fourth symbol of the history benchmark.
INSERT INTO market.splits (symbol, effective_date, split_factor, fetched_at)
SELECT 'H' || lpad(n::text, 2, '0'), min(s.session_date), 2, now()
FROM generate_series(4, %(symbols)s, 4) AS n
CROSS JOIN market.trading_sessions AS s
WHERE s.session_date >= date '2016-01-01' AND s.session_date > %(first_day)s AND s.session_date <= %(last_day)s
GROUP BY n
HAVING min(s.session_date) < date '2016-02-01';
