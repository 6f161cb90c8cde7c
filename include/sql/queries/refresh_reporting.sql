-- Bring the reporting tables level with market.bars, in one transaction (readers see the previous
-- contents until it commits). Recomputes only what the days in market.reporting_backlog (queued by
-- the trigger on market.bars, in the transaction that wrote the bars) can change:
--   daily_bars     the days themselves;
--   bar_metrics    the days' bars and the 49 bars after them (a 50-bar window reaches that far),
--                  from an input that starts 49 bars before;
--   daily_metrics  the days' sessions and the 199 sessions after them (the 200-day average),
--                  from an input that starts 199 sessions before;
-- and the whole history of a symbol and interval whose adjustment factors changed (a split or a
-- dividend stored or revised, a dividend gone ex, a close before an ex-date revised), or that
-- the backlog asks for (day -infinity: a migration or `cli rebuild-reporting`).
-- Bars are never deleted, only inserted or revised in place, so nothing else can move.
SELECT pg_advisory_xact_lock(hashtext('refresh_reporting'));  -- two drains' refreshes take turns

CREATE TEMP TABLE factors_before ON COMMIT DROP AS TABLE reporting.adjustment_factors;
REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.adjustment_factors;

CREATE TEMP TABLE taken_days (symbol text, interval text, day_et date) ON COMMIT DROP;
WITH taken AS (DELETE FROM market.reporting_backlog RETURNING symbol, interval, day_et)
INSERT INTO taken_days SELECT symbol, interval, day_et FROM taken;
INSERT INTO taken_days
SELECT DISTINCT symbol, interval, '-infinity'::date
FROM ((TABLE factors_before EXCEPT TABLE reporting.adjustment_factors)
      UNION ALL
      (TABLE reporting.adjustment_factors EXCEPT TABLE factors_before)) AS changed;

-- One row per day to recompute, [first_day, end_day) and the same span in UTC; a whole history
-- replaces the symbol's single days.
CREATE TEMP TABLE refresh_days ON COMMIT DROP AS
SELECT DISTINCT t.symbol, t.interval, t.day_et AS first_day, span.end_day,
       t.day_et::timestamp AT TIME ZONE 'America/New_York' AS start_utc,
       span.end_day::timestamp AT TIME ZONE 'America/New_York' AS end_utc
FROM taken_days AS t
CROSS JOIN LATERAL (SELECT CASE WHEN t.day_et = '-infinity' THEN 'infinity'::date ELSE t.day_et + 1 END AS end_day)
    AS span
WHERE t.day_et = '-infinity'
   OR NOT EXISTS (SELECT 1 FROM taken_days AS whole
                  WHERE whole.symbol = t.symbol AND whole.interval = t.interval AND whole.day_et = '-infinity');
-- Temporary tables have no statistics until analysed: planned as ~1,000 rows against millions
-- of bars, a 20-row refresh got hash joins and JIT compilation (0.5 s a statement).
ANALYZE refresh_days;

-- daily_bars -------------------------------------------------------------------------------
DELETE FROM reporting.daily_bars AS d
USING refresh_days AS r
WHERE d.symbol = r.symbol AND d.interval = r.interval
  AND d.session_date >= r.first_day AND d.session_date < r.end_day;
INSERT INTO reporting.daily_bars
SELECT day.*
FROM refresh_days AS r
CROSS JOIN LATERAL (
    SELECT f.symbol, f.interval, f.session_date, h.hours,
           (array_agg(f.open ORDER BY f.bar_time_utc))[1] AS open,
           max(f.high) AS high,
           min(f.low) AS low,
           (array_agg(f.close ORDER BY f.bar_time_utc DESC))[1] AS close,
           sum(f.volume)::bigint AS volume,
           count(*)::integer AS bars,
           round(sum((f.high + f.low + f.close) / 3 * f.volume) / nullif(sum(f.volume), 0), 6) AS vwap,
           min(f.bar_time_utc) AS first_bar_utc,
           max(f.bar_time_utc) AS last_bar_utc,
           (array_agg(f.open_adj ORDER BY f.bar_time_utc))[1] AS open_adj,
           max(f.high_adj) AS high_adj,
           min(f.low_adj) AS low_adj,
           (array_agg(f.close_adj ORDER BY f.bar_time_utc DESC))[1] AS close_adj,
           sum(f.volume_adj)::bigint AS volume_adj,
           round(sum((f.high_adj + f.low_adj + f.close_adj) / 3 * f.volume_adj) / nullif(sum(f.volume_adj), 0), 6)
               AS vwap_adj,
           (array_agg(f.close_tr ORDER BY f.bar_time_utc DESC))[1] AS close_tr
    FROM reporting.fact_bars AS f
    JOIN (VALUES ('regular'), ('extended')) AS h (hours) ON h.hours = 'extended' OR f.session_part = 'regular'
    WHERE f.symbol = r.symbol AND f.interval = r.interval
      AND f.bar_time_utc >= r.start_utc AND f.bar_time_utc < r.end_utc
      AND f.session_date IS NOT NULL
    GROUP BY f.symbol, f.interval, f.session_date, h.hours
) AS day;

-- bar_metrics ------------------------------------------------------------------------------
CREATE TEMP TABLE bar_ranges ON COMMIT DROP AS
SELECT merged.symbol, merged.interval, lower(merged.span) AS start_utc, upper(merged.span) AS end_utc,
       coalesce((SELECT b.bar_time FROM market.bars AS b
                 WHERE b.symbol = merged.symbol AND b.interval = merged.interval
                   AND b.bar_time < lower(merged.span)
                 ORDER BY b.bar_time DESC OFFSET 48 LIMIT 1), '-infinity') AS input_start_utc
FROM (
    SELECT r.symbol, r.interval, unnest(range_agg(tstzrange(r.start_utc, reach.end_utc))) AS span
    FROM refresh_days AS r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r.end_utc = 'infinity' THEN 'infinity'
                    ELSE coalesce((SELECT b.bar_time FROM market.bars AS b
                                   WHERE b.symbol = r.symbol AND b.interval = r.interval AND b.bar_time >= r.end_utc
                                   ORDER BY b.bar_time OFFSET 49 LIMIT 1), 'infinity') END AS end_utc
    ) AS reach
    GROUP BY r.symbol, r.interval
) AS merged;
ANALYZE bar_ranges;

DELETE FROM reporting.bar_metrics AS m
USING bar_ranges AS r
WHERE m.symbol = r.symbol AND m.interval = r.interval
  AND m.bar_time_utc >= r.start_utc AND m.bar_time_utc < r.end_utc;
INSERT INTO reporting.bar_metrics
SELECT bar.*
FROM bar_ranges AS r
CROSS JOIN LATERAL (
    SELECT symbol, interval, bar_time_utc, bar_time_et, session_date, session_part,
           close, close_adj, close_tr, volume, volume_adj,
           (close_tr / lag(close_tr) OVER bars)::float8 - 1 AS bar_return,
           CASE WHEN count(*) OVER (bars ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) = 20
                THEN round(avg(close_adj) OVER (bars ROWS BETWEEN 19 PRECEDING AND CURRENT ROW), 6) END AS ma_20,
           CASE WHEN count(*) OVER (bars ROWS BETWEEN 49 PRECEDING AND CURRENT ROW) = 50
                THEN round(avg(close_adj) OVER (bars ROWS BETWEEN 49 PRECEDING AND CURRENT ROW), 6) END AS ma_50,
           CASE WHEN session_part = 'regular'
                THEN round(sum((high_adj + low_adj + close_adj) / 3 * volume_adj) OVER regular_so_far
                           / nullif(sum(volume_adj) OVER regular_so_far, 0), 6) END AS session_vwap
    FROM reporting.fact_bars
    WHERE symbol = r.symbol AND interval = r.interval
      AND bar_time_utc >= r.input_start_utc AND bar_time_utc < r.end_utc
    WINDOW bars AS (ORDER BY bar_time_utc),
           regular_so_far AS (PARTITION BY session_date, session_part ORDER BY bar_time_utc)
) AS bar
WHERE bar.bar_time_utc >= r.start_utc;

-- daily_metrics ----------------------------------------------------------------------------
CREATE TEMP TABLE session_ranges ON COMMIT DROP AS
SELECT merged.symbol, merged.interval, lower(merged.span) AS first_day, upper(merged.span) AS end_day,
       coalesce((SELECT d.session_date FROM reporting.daily_bars AS d
                 WHERE d.symbol = merged.symbol AND d.interval = merged.interval AND d.hours = 'regular'
                   AND d.session_date < lower(merged.span)
                 ORDER BY d.session_date DESC OFFSET 198 LIMIT 1), '-infinity') AS input_first_day
FROM (
    SELECT r.symbol, r.interval, unnest(range_agg(daterange(r.first_day, reach.end_day))) AS span
    FROM refresh_days AS r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r.end_day = 'infinity' THEN 'infinity'
                    ELSE coalesce((SELECT d.session_date FROM reporting.daily_bars AS d
                                   WHERE d.symbol = r.symbol AND d.interval = r.interval AND d.hours = 'regular'
                                     AND d.session_date >= r.end_day
                                   ORDER BY d.session_date OFFSET 199 LIMIT 1), 'infinity') END AS end_day
    ) AS reach
    GROUP BY r.symbol, r.interval
) AS merged;
ANALYZE session_ranges;

DELETE FROM reporting.daily_metrics AS m
USING session_ranges AS r
WHERE m.symbol = r.symbol AND m.interval = r.interval
  AND m.session_date >= r.first_day AND m.session_date < r.end_day;
INSERT INTO reporting.daily_metrics
SELECT day.*
FROM session_ranges AS r
CROSS JOIN LATERAL (
    WITH intraday AS (
        SELECT session_date,
               ln((close_adj / lag(close_adj) OVER (PARTITION BY session_date ORDER BY bar_time_utc))::float8)
                   AS log_return
        FROM reporting.fact_bars
        WHERE symbol = r.symbol AND interval = r.interval AND session_part = 'regular'
          AND bar_time_utc >= r.first_day::timestamp AT TIME ZONE 'America/New_York'
          AND bar_time_utc < r.end_day::timestamp AT TIME ZONE 'America/New_York'
    ), realised AS (
        SELECT session_date, sqrt(sum(log_return ^ 2)) AS realised_volatility
        FROM intraday
        GROUP BY session_date
    ), sessions AS (
        SELECT d.symbol, d.interval, d.session_date, s.session_number, d.close, d.volume, d.vwap,
               d.close_adj, d.volume_adj, d.vwap_adj, d.close_tr
        FROM reporting.daily_bars AS d
        JOIN reporting.dim_trading_session AS s USING (session_date)
        WHERE d.symbol = r.symbol AND d.interval = r.interval AND d.hours = 'regular'
          AND d.session_date >= r.input_first_day AND d.session_date < r.end_day
    )
    SELECT symbol, interval, session_date, close, volume, vwap, close_adj, volume_adj, vwap_adj, close_tr,
           -- A return needs the previous session loaded; a gap in the data gives null, not a multi-day return.
           CASE WHEN lag(session_number) OVER days = session_number - 1
                THEN (close_tr / lag(close_tr) OVER days)::float8 - 1 END AS daily_return,
           CASE WHEN lag(session_number) OVER days = session_number - 1
                THEN ln((close_tr / lag(close_tr) OVER days)::float8) END AS log_return,
           CASE WHEN lag(session_number) OVER days = session_number - 1
                THEN (close_adj / lag(close_adj) OVER days)::float8 - 1 END AS price_return,
           (close_adj / nullif(vwap_adj, 0))::float8 - 1 AS close_vs_vwap,
           -- An N-day average needs N consecutive sessions loaded.
           CASE WHEN session_number - first_value(session_number) OVER (days ROWS 19 PRECEDING) = 19
                 AND count(*) OVER (days ROWS 19 PRECEDING) = 20
                THEN round(avg(close_adj) OVER (days ROWS 19 PRECEDING), 6) END AS ma_20d,
           CASE WHEN session_number - first_value(session_number) OVER (days ROWS 49 PRECEDING) = 49
                 AND count(*) OVER (days ROWS 49 PRECEDING) = 50
                THEN round(avg(close_adj) OVER (days ROWS 49 PRECEDING), 6) END AS ma_50d,
           CASE WHEN session_number - first_value(session_number) OVER (days ROWS 199 PRECEDING) = 199
                 AND count(*) OVER (days ROWS 199 PRECEDING) = 200
                THEN round(avg(close_adj) OVER (days ROWS 199 PRECEDING), 6) END AS ma_200d,
           realised.realised_volatility
    FROM sessions
    LEFT JOIN realised USING (session_date)
    WINDOW days AS (ORDER BY session_date)
) AS day
WHERE day.session_date >= r.first_day;
