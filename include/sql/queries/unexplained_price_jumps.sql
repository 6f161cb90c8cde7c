-- Sessions since a day whose first regular-hours open (as traded) is a split-sized step from the
-- previous session's last regular close, on a day with no stored split: a split the warehouse
-- may not know yet, so the corporate actions check asks for the symbol's actions early. The
-- previous sessions are looked up over ten days before `since` (holidays and long weekends).
WITH sessions AS (
    SELECT b.symbol, t.session_date,
           (array_agg(b.open ORDER BY b.bar_time))[1] AS first_open,
           (array_agg(b.close ORDER BY b.bar_time DESC))[1] AS last_close
    FROM market.bars AS b
    JOIN market.trading_sessions AS t ON t.session_date = (b.bar_time AT TIME ZONE 'America/New_York')::date
    WHERE b.interval = %(interval)s
      AND b.bar_time >= (%(since)s::date - 10)::timestamp AT TIME ZONE 'America/New_York'
      AND b.bar_time >= t.regular_open AND b.bar_time < t.regular_close
    GROUP BY b.symbol, t.session_date
), steps AS (
    SELECT symbol, session_date,
           first_open / nullif(lag(last_close) OVER (PARTITION BY symbol ORDER BY session_date), 0) AS ratio
    FROM sessions
)
SELECT s.symbol, s.session_date, round(s.ratio, 4) AS ratio
FROM steps AS s
WHERE s.session_date >= %(since)s::date
  AND (s.ratio <= %(at_most)s OR s.ratio >= 1 / %(at_most)s::numeric)
  AND NOT EXISTS (SELECT 1 FROM market.splits AS split
                  WHERE split.symbol = s.symbol AND split.effective_date = s.session_date)
ORDER BY s.symbol, s.session_date
