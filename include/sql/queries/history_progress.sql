-- How many (symbol, month) of the watchlist a ledger holds, and the first and last month.
SELECT count(*) AS months_loaded, min(month) AS first, max(month) AS last
FROM market.history_months
WHERE ledger = %(ledger)s AND symbol = ANY(%(symbols)s::text[])
