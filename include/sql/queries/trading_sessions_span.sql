SELECT count(*), max(session_date) FROM market.trading_sessions
