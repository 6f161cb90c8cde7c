COPY market.trading_sessions
    (session_date, regular_open, regular_close, extended_open, extended_close, published_at, half_day)
FROM STDIN
