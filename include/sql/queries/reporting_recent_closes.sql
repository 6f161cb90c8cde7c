-- Every symbol's closes over its last N loaded sessions: the PNG export.
SELECT f.symbol, f.bar_time_et, f.close
FROM reporting.fact_bars AS f
JOIN (
    SELECT symbol, session_date,
           dense_rank() OVER (PARTITION BY symbol ORDER BY session_date DESC) AS sessions_back
    FROM reporting.daily_bars
    WHERE hours = 'extended'
) AS recent USING (symbol, session_date)
WHERE recent.sessions_back <= %(sessions)s
ORDER BY f.symbol, f.bar_time_utc
