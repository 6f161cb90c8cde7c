-- Back to 0004's reporting views on the bars as stored, and no corporate actions.
DROP MATERIALIZED VIEW reporting.daily_metrics;
DROP MATERIALIZED VIEW reporting.daily_bars;
DROP MATERIALIZED VIEW reporting.bar_metrics;
DROP VIEW reporting.fact_bars;
DROP MATERIALIZED VIEW reporting.adjustment_factors;
DROP AGGREGATE market.product(numeric);
DROP TABLE market.dividends;
DROP TABLE market.splits;
COMMENT ON TABLE market.bars IS NULL;
COMMENT ON COLUMN market.bars.open IS NULL;
COMMENT ON COLUMN market.bars.high IS NULL;
COMMENT ON COLUMN market.bars.low IS NULL;
COMMENT ON COLUMN market.bars.close IS NULL;
COMMENT ON COLUMN market.bars.volume IS NULL;

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
