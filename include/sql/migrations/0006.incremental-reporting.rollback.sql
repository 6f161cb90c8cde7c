-- Back to 0005's materialized views, refreshed by REFRESH MATERIALIZED VIEW (see 0005).
DROP VIEW reporting.dim_symbol;
DROP TABLE reporting.daily_metrics;
DROP TABLE reporting.daily_bars;
DROP TABLE reporting.bar_metrics;
DROP TRIGGER queue_updated_days ON market.bars;
DROP TRIGGER queue_inserted_days ON market.bars;
DROP FUNCTION market.queue_written_days();
DROP TABLE market.reporting_backlog;

CREATE MATERIALIZED VIEW reporting.bar_metrics AS
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
WINDOW bars AS (PARTITION BY symbol, interval ORDER BY bar_time_utc),
       regular_so_far AS (PARTITION BY symbol, interval, session_date, session_part ORDER BY bar_time_utc);
CREATE UNIQUE INDEX bar_metrics_key ON reporting.bar_metrics (symbol, bar_time_utc, interval);
COMMENT ON MATERIALIZED VIEW reporting.bar_metrics IS 'Per bar, on the adjusted series: the total return on the previous bar, 20- and 50-period moving averages of the split-adjusted close (null until 20 or 50 bars exist), and the split-adjusted session VWAP so far (regular hours only); close and volume as traded beside them.';
COMMENT ON COLUMN reporting.bar_metrics.session_vwap IS 'Volume-weighted typical price ((high + low + close) / 3) of the regular session''s bars up to this one, split-adjusted.';

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
WHERE f.session_date IS NOT NULL
GROUP BY f.symbol, f.interval, f.session_date, h.hours;
CREATE UNIQUE INDEX daily_bars_key ON reporting.daily_bars (symbol, session_date, interval, hours);
COMMENT ON MATERIALIZED VIEW reporting.daily_bars IS 'Daily OHLCV per session built from the intraday bars: hours = regular (open to close) or extended (every bar of the session, pre and post included); vwap is the session VWAP of the same bars. open..vwap as traded, *_adj split-adjusted, close_tr total-return adjusted (see reporting.fact_bars).';

CREATE MATERIALIZED VIEW reporting.daily_metrics AS
WITH intraday AS (
    SELECT symbol, interval, session_date,
           ln((close_adj / lag(close_adj) OVER (PARTITION BY symbol, interval, session_date ORDER BY bar_time_utc))::float8)
               AS log_return
    FROM reporting.fact_bars
    WHERE session_part = 'regular'
), realised AS (
    SELECT symbol, interval, session_date, sqrt(sum(log_return ^ 2)) AS realised_volatility
    FROM intraday
    GROUP BY symbol, interval, session_date
), sessions AS (
    SELECT d.symbol, d.interval, d.session_date, s.session_number, d.close, d.volume, d.vwap,
           d.close_adj, d.volume_adj, d.vwap_adj, d.close_tr
    FROM reporting.daily_bars AS d
    JOIN reporting.dim_trading_session AS s USING (session_date)
    WHERE d.hours = 'regular'
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
LEFT JOIN realised USING (symbol, interval, session_date)
WINDOW days AS (PARTITION BY symbol, interval ORDER BY session_date);
CREATE UNIQUE INDEX daily_metrics_key ON reporting.daily_metrics (symbol, session_date, interval);
COMMENT ON MATERIALIZED VIEW reporting.daily_metrics IS 'Per regular session, on the adjusted series: the total return (daily_return, log_return; dividends included) and the split-adjusted price return on the previous session (null when it is not loaded), the split-adjusted close against the session VWAP, 20-, 50- and 200-day moving averages of the split-adjusted close (null without that many consecutive sessions), and realised volatility; close, volume and vwap as traded beside them.';
COMMENT ON COLUMN reporting.daily_metrics.realised_volatility IS 'Square root of the sum of squared log returns between consecutive regular-hours bars of the session (not annualised: multiply by sqrt(252) for a yearly figure). A session has one basis, so adjusting does not change it.';
COMMENT ON COLUMN reporting.daily_metrics.close_vs_vwap IS 'The split-adjusted close relative to the split-adjusted session VWAP: above zero, the session closed above its volume-weighted price.';

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
