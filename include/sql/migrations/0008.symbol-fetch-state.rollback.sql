DROP TABLE market.history_months;
DROP TABLE market.symbol_fetch_state;
