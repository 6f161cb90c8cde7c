SELECT symbol, watermark, last_fetch_at, flagged, actions_checked_at
FROM market.symbol_fetch_state
WHERE ledger = %(ledger)s
