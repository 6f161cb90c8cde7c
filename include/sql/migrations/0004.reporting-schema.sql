-- The analysts' layer: the `reporting` schema, the only one market_reader may read.
-- Plain views where a query stays cheap; materialized views (each with the unique index
-- REFRESH ... CONCURRENTLY needs, led by symbol for "one symbol over a date range") where
-- it does not, refreshed after every drain (include/sql/queries/refresh_reporting.sql).
-- Times: *_utc are timestamptz, *_et are US/Eastern wall-clock timestamps; a session
-- date is the US/Eastern date of the NYSE session (market.trading_sessions).
CREATE SCHEMA reporting;
COMMENT ON SCHEMA reporting IS 'Read-only layer for Power BI and the Airflow market page: market_reader may read this schema and nothing else.';
GRANT USAGE ON SCHEMA reporting TO market_reader;
-- Covers every view the warehouse owner creates here, in this migration and in later ones.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO market_reader;

-- Dimensions ---------------------------------------------------------------------------

CREATE VIEW reporting.dim_trading_session AS
SELECT session_date,
       row_number() OVER (ORDER BY session_date)::integer AS session_number,
       regular_open AS regular_open_utc,
       regular_close AS regular_close_utc,
       extended_open AS extended_open_utc,
       extended_close AS extended_close_utc,
       (regular_open AT TIME ZONE 'America/New_York')::time AS regular_open_et,
       (regular_close AT TIME ZONE 'America/New_York')::time AS regular_close_et,
       half_day,
       published_at AS published_at_utc,
       date_trunc('month', session_date)::date AS month,
       extract(isodow FROM session_date)::integer AS iso_weekday
FROM market.trading_sessions;
COMMENT ON VIEW reporting.dim_trading_session IS 'NYSE sessions from exchange_calendars (XNYS) since 2000, a year ahead: regular and extended hours, half days (13:00 close), and when a key without an entitlement sees the session.';
COMMENT ON COLUMN reporting.dim_trading_session.session_number IS 'Consecutive session count: two sessions are adjacent when their numbers differ by one.';

CREATE MATERIALIZED VIEW reporting.dim_symbol AS
SELECT symbol,
       min(bar_time) AS first_bar_utc,
       max(bar_time) AS last_bar_utc,
       count(bar_time) AS bars_loaded,
       count(DISTINCT (bar_time AT TIME ZONE 'America/New_York')::date) AS days_loaded,
       symbol IN (SELECT symbol FROM market.fetch_state) AS on_watchlist
FROM (SELECT symbol, bar_time FROM market.bars
      UNION ALL
      SELECT symbol, NULL FROM market.fetch_state) AS symbols
GROUP BY symbol;
CREATE UNIQUE INDEX dim_symbol_key ON reporting.dim_symbol (symbol);
COMMENT ON MATERIALIZED VIEW reporting.dim_symbol IS 'Every symbol loaded or on the watchlist: its first and last bar and how many bars are loaded.';

-- Facts ------------------------------------------------------------------------------

CREATE VIEW reporting.fact_bars AS
SELECT b.symbol,
       b.interval,
       b.bar_time AS bar_time_utc,
       b.bar_time AT TIME ZONE 'America/New_York' AS bar_time_et,
       s.session_date,
       CASE WHEN s.session_date IS NULL THEN NULL
            WHEN b.bar_time < s.regular_open THEN 'pre'
            WHEN b.bar_time < s.regular_close THEN 'regular'
            ELSE 'post' END AS session_part,
       b.open, b.high, b.low, b.close, b.volume
FROM market.bars AS b
LEFT JOIN market.trading_sessions AS s ON s.session_date = (b.bar_time AT TIME ZONE 'America/New_York')::date;
COMMENT ON VIEW reporting.fact_bars IS 'One row per intraday bar (bar time = the bar''s start) with its session date and part. Filter on symbol and bar_time_utc: both reach the table''s index.';
COMMENT ON COLUMN reporting.fact_bars.session_part IS 'pre (04:00 to the open), regular (09:30 to the close, 13:00 on half days) or post (to four hours after the close); null for a bar outside any session.';

CREATE MATERIALIZED VIEW reporting.bar_metrics AS
SELECT symbol, interval, bar_time_utc, bar_time_et, session_date, session_part, close, volume,
       (close / lag(close) OVER bars)::float8 - 1 AS bar_return,
       CASE WHEN count(*) OVER (bars ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) = 20
            THEN round(avg(close) OVER (bars ROWS BETWEEN 19 PRECEDING AND CURRENT ROW), 6) END AS ma_20,
       CASE WHEN count(*) OVER (bars ROWS BETWEEN 49 PRECEDING AND CURRENT ROW) = 50
            THEN round(avg(close) OVER (bars ROWS BETWEEN 49 PRECEDING AND CURRENT ROW), 6) END AS ma_50,
       CASE WHEN session_part = 'regular'
            THEN round(sum((high + low + close) / 3 * volume) OVER regular_so_far
                       / nullif(sum(volume) OVER regular_so_far, 0), 6) END AS session_vwap
FROM reporting.fact_bars
WINDOW bars AS (PARTITION BY symbol, interval ORDER BY bar_time_utc),
       regular_so_far AS (PARTITION BY symbol, interval, session_date, session_part ORDER BY bar_time_utc);
CREATE UNIQUE INDEX bar_metrics_key ON reporting.bar_metrics (symbol, bar_time_utc, interval);
COMMENT ON MATERIALIZED VIEW reporting.bar_metrics IS 'Per bar: the return on the previous bar, 20- and 50-period moving averages of the close (null until 20 or 50 bars exist), and the session VWAP so far (regular hours only).';
COMMENT ON COLUMN reporting.bar_metrics.session_vwap IS 'Volume-weighted typical price ((high + low + close) / 3) of the regular session''s bars up to this one.';

CREATE MATERIALIZED VIEW reporting.daily_bars AS
SELECT f.symbol, f.interval, f.session_date, h.hours,
       (array_agg(f.open ORDER BY f.bar_time_utc))[1] AS open,
       max(f.high) AS high,
       min(f.low) AS low,
       (array_agg(f.close ORDER BY f.bar_time_utc DESC))[1] AS close,
       sum(f.volume)::bigint AS volume,
       count(*)::integer AS bars,
       round(sum((f.high + f.low + f.close) / 3 * f.volume) / nullif(sum(f.volume), 0), 6) AS vwap,
       min(f.bar_time_utc) AS first_bar_utc,
       max(f.bar_time_utc) AS last_bar_utc
FROM reporting.fact_bars AS f
JOIN (VALUES ('regular'), ('extended')) AS h (hours) ON h.hours = 'extended' OR f.session_part = 'regular'
WHERE f.session_date IS NOT NULL
GROUP BY f.symbol, f.interval, f.session_date, h.hours;
CREATE UNIQUE INDEX daily_bars_key ON reporting.daily_bars (symbol, session_date, interval, hours);
COMMENT ON MATERIALIZED VIEW reporting.daily_bars IS 'Daily OHLCV per session built from the intraday bars: hours = regular (open to close) or extended (every bar of the session, pre and post included); vwap is the session VWAP of the same bars.';

CREATE MATERIALIZED VIEW reporting.daily_metrics AS
WITH intraday AS (
    SELECT symbol, interval, session_date,
           ln((close / lag(close) OVER (PARTITION BY symbol, interval, session_date ORDER BY bar_time_utc))::float8)
               AS log_return
    FROM reporting.fact_bars
    WHERE session_part = 'regular'
), realised AS (
    SELECT symbol, interval, session_date, sqrt(sum(log_return ^ 2)) AS realised_volatility
    FROM intraday
    GROUP BY symbol, interval, session_date
), sessions AS (
    SELECT d.symbol, d.interval, d.session_date, s.session_number, d.close, d.volume, d.vwap
    FROM reporting.daily_bars AS d
    JOIN reporting.dim_trading_session AS s USING (session_date)
    WHERE d.hours = 'regular'
)
SELECT symbol, interval, session_date, close, volume, vwap,
       -- A return needs the previous session loaded; a gap in the data gives null, not a multi-day return.
       CASE WHEN lag(session_number) OVER days = session_number - 1
            THEN (close / lag(close) OVER days)::float8 - 1 END AS daily_return,
       CASE WHEN lag(session_number) OVER days = session_number - 1
            THEN ln((close / lag(close) OVER days)::float8) END AS log_return,
       -- An N-day average needs N consecutive sessions loaded.
       CASE WHEN session_number - first_value(session_number) OVER (days ROWS 19 PRECEDING) = 19
             AND count(*) OVER (days ROWS 19 PRECEDING) = 20
            THEN round(avg(close) OVER (days ROWS 19 PRECEDING), 6) END AS ma_20d,
       CASE WHEN session_number - first_value(session_number) OVER (days ROWS 49 PRECEDING) = 49
             AND count(*) OVER (days ROWS 49 PRECEDING) = 50
            THEN round(avg(close) OVER (days ROWS 49 PRECEDING), 6) END AS ma_50d,
       CASE WHEN session_number - first_value(session_number) OVER (days ROWS 199 PRECEDING) = 199
             AND count(*) OVER (days ROWS 199 PRECEDING) = 200
            THEN round(avg(close) OVER (days ROWS 199 PRECEDING), 6) END AS ma_200d,
       realised.realised_volatility
FROM sessions
LEFT JOIN realised USING (symbol, interval, session_date)
WINDOW days AS (PARTITION BY symbol, interval ORDER BY session_date);
CREATE UNIQUE INDEX daily_metrics_key ON reporting.daily_metrics (symbol, session_date, interval);
COMMENT ON MATERIALIZED VIEW reporting.daily_metrics IS 'Per regular session: close, volume and VWAP, the return on the previous session (null when it is not loaded), 20-, 50- and 200-day moving averages of the close (null without that many consecutive sessions), and realised volatility.';
COMMENT ON COLUMN reporting.daily_metrics.realised_volatility IS 'Square root of the sum of squared log returns between consecutive regular-hours bars of the session (not annualised: multiply by sqrt(252) for a yearly figure).';

-- Operations ---------------------------------------------------------------------------

CREATE VIEW reporting.freshness AS
SELECT f.symbol,
       newest.bar_time AS newest_bar_utc,
       newest.bar_time AT TIME ZONE 'America/New_York' AS newest_bar_et,
       now() - newest.bar_time AS age,
       f.entitlement,
       visible.until_utc AS visible_until_utc,
       f.flagged IS NULL
           AND coalesce(newest.bar_time + make_interval(mins => rtrim(f.interval, 'min')::integer), '-infinity')
               < visible.until_utc AS bars_expected,
       f.flagged,
       f.recorded_at AS state_recorded_at,
       w.stale AS watchdog_stale,
       w.reason AS watchdog_reason,
       w.checked_at AS watchdog_checked_at_utc
FROM market.fetch_state AS f
LEFT JOIN LATERAL (
    SELECT bar_time FROM market.bars AS b
    WHERE b.symbol = f.symbol AND b.interval = f.interval
    ORDER BY bar_time DESC LIMIT 1
) AS newest ON true
LEFT JOIN LATERAL (
    -- The newest session the key can see into: published (none), or opened by the delayed clock.
    SELECT CASE WHEN f.entitlement = 'none' THEN hours.closes
                ELSE least(now() - f.data_delay, hours.closes) END AS until_utc
    FROM market.trading_sessions AS s
    CROSS JOIN LATERAL (SELECT CASE WHEN f.extended_hours THEN s.extended_open ELSE s.regular_open END AS opens,
                               CASE WHEN f.extended_hours THEN s.extended_close ELSE s.regular_close END AS closes)
        AS hours
    WHERE CASE WHEN f.entitlement = 'none' THEN s.published_at <= now()
               ELSE hours.opens < now() - f.data_delay END
    ORDER BY s.session_date DESC LIMIT 1
) AS visible ON true
LEFT JOIN market.freshness_checks AS w ON w.symbol = f.symbol;
COMMENT ON VIEW reporting.freshness IS 'Per watchlist symbol: the newest bar, its age, and whether newer bars exist that the key may see (bars_expected): with entitlement none, a published session not yet loaded; with delayed or realtime, bars of a session in progress or not yet loaded. Never expected for a flagged symbol.';
COMMENT ON COLUMN reporting.freshness.watchdog_stale IS 'The freshness watchdog''s last verdict (market_freshness_watchdog): true when it found the symbol stale and alerted; watchdog_reason says why either way.';
COMMENT ON COLUMN reporting.freshness.visible_until_utc IS 'The end of the newest bar the key may see now: the published session''s close (none), or now minus the delay, capped at the session''s close.';

CREATE VIEW reporting.api_quota_daily AS
SELECT (requested_at AT TIME ZONE 'UTC')::date AS quota_day,
       count(*)::integer AS requests,
       count(*) FILTER (WHERE outcome = 'ok')::integer AS ok,
       count(*) FILTER (WHERE outcome IN ('rate_limited', 'daily_limit_reached'))::integer AS throttled,
       count(*) FILTER (WHERE outcome NOT IN ('ok', 'rate_limited', 'daily_limit_reached'))::integer AS failed,
       coalesce(sum(bars), 0)::bigint AS bars,
       min(requested_at) AS first_request_utc,
       max(requested_at) AS last_request_utc
FROM market.api_calls
GROUP BY 1;
COMMENT ON VIEW reporting.api_quota_daily IS 'Alpha Vantage requests per quota day (UTC), from the API call log: every HTTP request counts, retries included.';

CREATE VIEW reporting.api_quota_today AS
SELECT (now() AT TIME ZONE 'UTC')::date AS quota_day,
       coalesce(today.requests, 0) AS requests_used,
       limits.requests_per_day,
       CASE WHEN limits.requests_per_day IS NOT NULL
            THEN greatest(limits.requests_per_day - coalesce(today.requests, 0), 0) END AS requests_left
FROM (SELECT max(requests_per_day) AS requests_per_day FROM market.fetch_state) AS limits
LEFT JOIN reporting.api_quota_daily AS today ON today.quota_day = (now() AT TIME ZONE 'UTC')::date;
COMMENT ON VIEW reporting.api_quota_today IS 'Today''s requests against the key''s daily limit (requests_per_day and requests_left are null when the key has no daily cap).';

CREATE VIEW reporting.kafka_lag AS
SELECT l.query_name, l.topic, l.partition, l.end_offset,
       l.end_offset - l.committed_offset AS lag_at_check,
       greatest(l.end_offset - coalesce(o.next_offset, l.committed_offset), 0) AS still_unloaded,
       l.checked_at AS checked_at_utc
FROM market.topic_lag AS l
LEFT JOIN market.ingest_offsets AS o USING (query_name, topic, partition);
COMMENT ON VIEW reporting.kafka_lag IS 'Messages in Kafka not yet in the warehouse, per drain query and partition, as the backlog check last saw them (lag_at_check); still_unloaded subtracts what drains have committed since.';

CREATE VIEW reporting.quarantine AS
SELECT quarantine_id, quarantined_at AS quarantined_at_utc, reason,
       source_topic, source_partition, source_offset, message_key,
       left(raw_value, 1000) AS raw_value
FROM market.quarantine;
COMMENT ON VIEW reporting.quarantine IS 'Records that could not become bars, with the reason and where they came from in Kafka (raw value cut to 1000 characters); newest first by quarantined_at_utc.';
