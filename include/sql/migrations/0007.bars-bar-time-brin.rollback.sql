DROP INDEX market.bars_bar_time_brin;
CREATE INDEX bars_bar_time_idx ON market.bars (bar_time);
