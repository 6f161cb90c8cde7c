DROP INDEX market.quarantine_quarantined_at_idx;
DROP TABLE market.freshness_checks;
DROP TABLE market.topic_lag;
DROP TABLE market.fetch_state;
DROP TABLE market.trading_sessions;
