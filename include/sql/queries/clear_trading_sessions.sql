DELETE FROM market.trading_sessions
