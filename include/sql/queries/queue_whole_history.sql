-- A full rebuild (`cli rebuild-reporting`): empty the maintained tables and queue every symbol
-- and interval's whole history; refresh_reporting.sql then recomputes it all.
TRUNCATE reporting.bar_metrics, reporting.daily_bars, reporting.daily_metrics, market.reporting_backlog;
INSERT INTO market.reporting_backlog (symbol, interval, day_et)
SELECT DISTINCT symbol, interval, '-infinity'::date FROM market.bars;
