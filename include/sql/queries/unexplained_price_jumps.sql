-- Sessions since a day whose regular-hours open (as traded) is a split-sized step from the
-- previous loaded session's regular close, on a day with no stored split: a split the warehouse
-- may not know yet, so the corporate actions check asks for the symbol's actions early. The
-- previous sessions are looked up over ten days before `since` (holidays and long weekends).
WITH steps AS (
    SELECT symbol, session_date,
           open / nullif(lag(close) OVER (PARTITION BY symbol ORDER BY session_date), 0) AS ratio
    FROM reporting.daily_bars
    WHERE interval = %(interval)s AND hours = 'regular' AND session_date >= %(since)s::date - 10
)
SELECT s.symbol, s.session_date, round(s.ratio, 4) AS ratio
FROM steps AS s
WHERE s.session_date >= %(since)s::date
  AND (s.ratio <= %(at_most)s OR s.ratio >= 1 / %(at_most)s::numeric)
  AND NOT EXISTS (SELECT 1 FROM market.splits AS split
                  WHERE split.symbol = s.symbol AND split.effective_date = s.session_date)
ORDER BY s.symbol, s.session_date
