INSERT INTO market.history_months
    (ledger, symbol, month, run_id, clear_number, bars, loaded_at, unavailable, as_traded)
VALUES
    (%(ledger)s, %(symbol)s, %(month)s, %(run_id)s, %(clear_number)s, %(bars)s, %(loaded_at)s,
     %(unavailable)s, %(as_traded)s)
ON CONFLICT (ledger, symbol, month) DO UPDATE SET
    run_id = EXCLUDED.run_id, clear_number = EXCLUDED.clear_number, bars = EXCLUDED.bars,
    loaded_at = EXCLUDED.loaded_at, unavailable = EXCLUDED.unavailable, as_traded = EXCLUDED.as_traded
