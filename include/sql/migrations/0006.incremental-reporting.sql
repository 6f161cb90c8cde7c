-- The reporting layer maintained from what each write changed, not recomputed from everything.
-- bar_metrics, daily_bars and daily_metrics become tables; a statement trigger on market.bars
-- records, in the writing transaction, the (symbol, interval, US/Eastern day) of every bar
-- written (market.reporting_backlog), and include/sql/queries/refresh_reporting.sql recomputes
-- only what those days can change, in one transaction. dim_symbol becomes a view over daily_bars.
-- The contents are kept, and every symbol is queued for a whole rebuild so the next refresh
-- makes them exact whatever state the materialized views were in.

CREATE TABLE market.reporting_backlog (
    symbol    text NOT NULL,
    interval  text NOT NULL,
    day_et    date NOT NULL,   -- -infinity: the symbol's whole history (a rebuild)
    PRIMARY KEY (symbol, interval, day_et)
);
COMMENT ON TABLE market.reporting_backlog IS 'Days (US/Eastern) whose bars were written since the reporting layer was last brought level with market.bars; emptied by each refresh. A -infinity day asks for the whole history of the symbol and interval.';

CREATE FUNCTION market.queue_written_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO market.reporting_backlog (symbol, interval, day_et)
    SELECT DISTINCT symbol, interval, (bar_time AT TIME ZONE 'America/New_York')::date FROM written_bars
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- Whatever writes the bars (the sink's upsert, a COPY, a repair by hand) queues its days.
CREATE TRIGGER queue_inserted_days AFTER INSERT ON market.bars
    REFERENCING NEW TABLE AS written_bars FOR EACH STATEMENT EXECUTE FUNCTION market.queue_written_days();
CREATE TRIGGER queue_updated_days AFTER UPDATE ON market.bars
    REFERENCING NEW TABLE AS written_bars FOR EACH STATEMENT EXECUTE FUNCTION market.queue_written_days();

CREATE TABLE reporting.bar_metrics_table AS TABLE reporting.bar_metrics;
CREATE TABLE reporting.daily_bars_table AS TABLE reporting.daily_bars;
CREATE TABLE reporting.daily_metrics_table AS TABLE reporting.daily_metrics;
DROP MATERIALIZED VIEW reporting.dim_symbol;
DROP MATERIALIZED VIEW reporting.daily_metrics;
DROP MATERIALIZED VIEW reporting.daily_bars;
DROP MATERIALIZED VIEW reporting.bar_metrics;
ALTER TABLE reporting.bar_metrics_table RENAME TO bar_metrics;
ALTER TABLE reporting.daily_bars_table RENAME TO daily_bars;
ALTER TABLE reporting.daily_metrics_table RENAME TO daily_metrics;
ALTER TABLE reporting.bar_metrics ADD PRIMARY KEY (symbol, bar_time_utc, interval);
ALTER TABLE reporting.daily_bars ADD PRIMARY KEY (symbol, session_date, interval, hours);
ALTER TABLE reporting.daily_metrics ADD PRIMARY KEY (symbol, session_date, interval);

COMMENT ON TABLE reporting.bar_metrics IS 'Per bar, on the adjusted series: the total return on the previous bar, 20- and 50-period moving averages of the split-adjusted close (null until 20 or 50 bars exist), and the split-adjusted session VWAP so far (regular hours only); close and volume as traded beside them. Kept level with market.bars by every drain.';
COMMENT ON COLUMN reporting.bar_metrics.session_vwap IS 'Volume-weighted typical price ((high + low + close) / 3) of the regular session''s bars up to this one, split-adjusted.';
COMMENT ON TABLE reporting.daily_bars IS 'Daily OHLCV per session built from the intraday bars: hours = regular (open to close) or extended (every bar of the session, pre and post included); vwap is the session VWAP of the same bars. open..vwap as traded, *_adj split-adjusted, close_tr total-return adjusted (see reporting.fact_bars). Kept level with market.bars by every drain.';
COMMENT ON TABLE reporting.daily_metrics IS 'Per regular session, on the adjusted series: the total return (daily_return, log_return; dividends included) and the split-adjusted price return on the previous session (null when it is not loaded), the split-adjusted close against the session VWAP, 20-, 50- and 200-day moving averages of the split-adjusted close (null without that many consecutive sessions), and realised volatility; close, volume and vwap as traded beside them. Kept level with market.bars by every drain.';
COMMENT ON COLUMN reporting.daily_metrics.realised_volatility IS 'Square root of the sum of squared log returns between consecutive regular-hours bars of the session (not annualised: multiply by sqrt(252) for a yearly figure). A session has one basis, so adjusting does not change it.';
COMMENT ON COLUMN reporting.daily_metrics.close_vs_vwap IS 'The split-adjusted close relative to the split-adjusted session VWAP: above zero, the session closed above its volume-weighted price.';

-- From the daily rows (one per session, not per bar), so it stays cheap as history grows.
CREATE VIEW reporting.dim_symbol AS
SELECT symbol,
       min(first_bar_utc) AS first_bar_utc,
       max(last_bar_utc) AS last_bar_utc,
       coalesce(sum(bars), 0)::bigint AS bars_loaded,
       count(DISTINCT session_date) AS days_loaded,
       symbol IN (SELECT symbol FROM market.fetch_state) AS on_watchlist
FROM (SELECT symbol, first_bar_utc, last_bar_utc, bars, session_date FROM reporting.daily_bars WHERE hours = 'extended'
      UNION ALL
      SELECT symbol, NULL, NULL, NULL, NULL FROM market.fetch_state) AS symbols
GROUP BY symbol;
COMMENT ON VIEW reporting.dim_symbol IS 'Every symbol loaded or on the watchlist: its first and last bar, how many bars and sessions are loaded (bars of NYSE sessions, all intervals).';

INSERT INTO market.reporting_backlog (symbol, interval, day_et)
SELECT DISTINCT symbol, interval, '-infinity'::date FROM market.bars;
