-- Corporate actions, and the reporting layer's series adjusted for them.
-- Convention: backward adjustment to the latest basis, as Alpha Vantage's adjusted=true and most
-- vendors do. market.bars holds prices and volumes as traded; a bar of a session before a split
-- is shown divided by the splits since (volume multiplied), and the total-return series also
-- multiplies it by (1 - dividend / close before its ex-date) for every dividend gone ex since.
-- Adjusted values therefore move whenever an action is added or revised; raw bars never do.

COMMENT ON TABLE market.bars IS 'Intraday bars as traded (fetched with adjusted=false): prices and volumes on the basis of their own session, never adjusted for later splits or dividends. Adjusted series are in reporting.fact_bars.';
COMMENT ON COLUMN market.bars.open IS 'As traded, in USD.';
COMMENT ON COLUMN market.bars.high IS 'As traded, in USD.';
COMMENT ON COLUMN market.bars.low IS 'As traded, in USD.';
COMMENT ON COLUMN market.bars.close IS 'As traded, in USD.';
COMMENT ON COLUMN market.bars.volume IS 'Shares as traded (before any later split).';

-- A symbol's rows are replaced by each fetch of its SPLITS or DIVIDENDS reply, in one
-- transaction: a revised or withdrawn action replaces the older version.
CREATE TABLE market.splits (
    symbol          text          NOT NULL,
    effective_date  date          NOT NULL,   -- the first session on the new basis
    split_factor    numeric(18,6) NOT NULL CHECK (split_factor > 0),   -- new shares per old share
    fetched_at      timestamptz   NOT NULL,
    PRIMARY KEY (symbol, effective_date)
);
COMMENT ON TABLE market.splits IS 'Splits from Alpha Vantage''s SPLITS function, one row per symbol and effective date.';

CREATE TABLE market.dividends (
    symbol            text          NOT NULL,
    ex_dividend_date  date          NOT NULL,   -- the first session without the dividend
    amount            numeric(18,6) NOT NULL CHECK (amount >= 0),   -- per share, as declared
    declaration_date  date,
    record_date       date,
    payment_date      date,
    fetched_at        timestamptz   NOT NULL,
    PRIMARY KEY (symbol, ex_dividend_date)
);
COMMENT ON TABLE market.dividends IS 'Cash dividends from Alpha Vantage''s DIVIDENDS function, one row per symbol and ex-dividend date; amount is per share as declared, on the basis of the ex-date.';

CREATE AGGREGATE market.product(numeric) (SFUNC = numeric_mul, STYPE = numeric, INITCOND = '1');
COMMENT ON AGGREGATE market.product(numeric) IS 'The product of the values: several corporate actions'' combined factor, exactly.';

-- The derived views are rebuilt on the adjusted series: drop them in dependency order.
DROP MATERIALIZED VIEW reporting.daily_metrics;
DROP MATERIALIZED VIEW reporting.daily_bars;
DROP MATERIALIZED VIEW reporting.bar_metrics;
DROP VIEW reporting.fact_bars;

CREATE MATERIALIZED VIEW reporting.adjustment_factors AS
WITH intervals (interval) AS (VALUES ('1min'), ('5min'), ('15min'), ('30min'), ('60min')),
actions AS (
    -- Only actions gone ex by today (US/Eastern): a dividend declared for next month adjusts nothing yet.
    SELECT s.symbol, i.interval, s.effective_date AS action_date, s.split_factor, 1::numeric AS dividend_factor
    FROM market.splits AS s CROSS JOIN intervals AS i
    WHERE s.effective_date <= (now() AT TIME ZONE 'America/New_York')::date
    UNION ALL
    SELECT d.symbol, i.interval, d.ex_dividend_date, 1, 1 - d.amount / before.close
    FROM market.dividends AS d
    CROSS JOIN intervals AS i
    -- The close before the ex-date: the last regular-hours bar of the same interval before it.
    CROSS JOIN LATERAL (
        SELECT b.close
        FROM market.bars AS b
        JOIN market.trading_sessions AS t ON t.session_date = (b.bar_time AT TIME ZONE 'America/New_York')::date
        WHERE b.symbol = d.symbol AND b.interval = i.interval
          AND b.bar_time < d.ex_dividend_date::timestamp AT TIME ZONE 'America/New_York'
          AND b.bar_time >= t.regular_open AND b.bar_time < t.regular_close
        ORDER BY b.bar_time DESC
        LIMIT 1
    ) AS before
    WHERE d.ex_dividend_date <= (now() AT TIME ZONE 'America/New_York')::date AND d.amount < before.close
), by_day AS (
    SELECT symbol, interval, action_date,
           market.product(split_factor) AS split_factor, market.product(dividend_factor) AS dividend_factor
    FROM actions
    GROUP BY symbol, interval, action_date
)
SELECT symbol, interval,
       lag(action_date) OVER days AS from_date,
       action_date AS until_date,
       market.product(split_factor) OVER (days ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS split_factor,
       market.product(dividend_factor) OVER (days ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
           AS dividend_factor
FROM by_day
WINDOW days AS (PARTITION BY symbol, interval ORDER BY action_date);
CREATE UNIQUE INDEX adjustment_factors_key ON reporting.adjustment_factors (symbol, interval, until_date);
COMMENT ON MATERIALIZED VIEW reporting.adjustment_factors IS 'Per symbol and interval, the factors that bring a session dated from from_date (inclusive; null: from the first) to until_date (exclusive) to the latest basis: divide prices by split_factor (multiply volumes), then multiply prices by dividend_factor for total return. Sessions after the last action need none (factor 1).';
COMMENT ON COLUMN reporting.adjustment_factors.dividend_factor IS 'The product of (1 - amount / close before the ex-date) over the dividends gone ex after the session; the close is the last regular-hours bar before the ex-date.';

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
       b.open, b.high, b.low, b.close, b.volume,
       f.split_factor,
       f.dividend_factor,
       round(b.open / f.split_factor, 6) AS open_adj,
       round(b.high / f.split_factor, 6) AS high_adj,
       round(b.low / f.split_factor, 6) AS low_adj,
       round(b.close / f.split_factor, 6) AS close_adj,
       round(b.volume * f.split_factor)::bigint AS volume_adj,
       round(b.open / f.split_factor * f.dividend_factor, 6) AS open_tr,
       round(b.high / f.split_factor * f.dividend_factor, 6) AS high_tr,
       round(b.low / f.split_factor * f.dividend_factor, 6) AS low_tr,
       round(b.close / f.split_factor * f.dividend_factor, 6) AS close_tr
FROM market.bars AS b
LEFT JOIN market.trading_sessions AS s ON s.session_date = (b.bar_time AT TIME ZONE 'America/New_York')::date
-- Ranges of one symbol and interval never overlap: at most one row matches a bar.
LEFT JOIN reporting.adjustment_factors AS adj
    ON adj.symbol = b.symbol AND adj.interval = b.interval
   AND (adj.from_date IS NULL OR (b.bar_time AT TIME ZONE 'America/New_York')::date >= adj.from_date)
   AND (b.bar_time AT TIME ZONE 'America/New_York')::date < adj.until_date
CROSS JOIN LATERAL (SELECT coalesce(adj.split_factor, 1) AS split_factor,
                           coalesce(adj.dividend_factor, 1) AS dividend_factor) AS f;
COMMENT ON VIEW reporting.fact_bars IS 'One row per intraday bar (bar time = the bar''s start) with its session date and part: open..volume as traded; *_adj split-adjusted to the latest basis (prices divided, volume multiplied by split_factor); *_tr total-return adjusted (split-adjusted, then multiplied by dividend_factor). Filter on symbol and bar_time_utc: both reach the table''s index.';
COMMENT ON COLUMN reporting.fact_bars.session_part IS 'pre (04:00 to the open), regular (09:30 to the close, 13:00 on half days) or post (to four hours after the close); null for a bar outside any session.';
COMMENT ON COLUMN reporting.fact_bars.split_factor IS 'New shares per share of this bar''s session over every split since (1 when none).';
COMMENT ON COLUMN reporting.fact_bars.dividend_factor IS 'The total-return factor of every dividend gone ex since this bar''s session (1 when none).';

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
