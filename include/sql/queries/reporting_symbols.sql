SELECT symbol, first_bar_utc, last_bar_utc, bars_loaded FROM reporting.dim_symbol ORDER BY symbol
