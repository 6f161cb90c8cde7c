-- Each symbol's closes, as traded and split-adjusted, over its last N loaded sessions up to a
-- date (none: the latest), optionally for some symbols only: the PNG export.
SELECT f.symbol, f.bar_time_et, f.close, f.close_adj
FROM reporting.fact_bars AS f
JOIN (
    SELECT symbol, session_date,
           dense_rank() OVER (PARTITION BY symbol ORDER BY session_date DESC) AS sessions_back
    FROM reporting.daily_bars
    WHERE hours = 'extended'
      AND (%(through)s::date IS NULL OR session_date <= %(through)s::date)
      AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
) AS recent USING (symbol, session_date)
WHERE recent.sessions_back <= %(sessions)s
ORDER BY f.symbol, f.bar_time_utc
