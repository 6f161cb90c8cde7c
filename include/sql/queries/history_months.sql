-- The history months of one ledger: those named (an empty list: every month).
SELECT symbol, month, run_id, clear_number, bars, loaded_at, unavailable, as_traded
FROM market.history_months
WHERE ledger = %(ledger)s AND (cardinality(%(months)s::text[]) = 0 OR month = ANY(%(months)s::text[]))
ORDER BY symbol, month
