INSERT INTO market.symbol_fetch_state AS s (ledger, symbol, watermark, last_fetch_at, flagged, actions_checked_at)
VALUES (%(ledger)s, %(symbol)s, %(watermark)s, %(last_fetch_at)s, %(flagged)s, %(actions_checked_at)s)
ON CONFLICT (ledger, symbol) DO UPDATE SET
    watermark = EXCLUDED.watermark, last_fetch_at = EXCLUDED.last_fetch_at,
    flagged = EXCLUDED.flagged, actions_checked_at = EXCLUDED.actions_checked_at
