SELECT symbol, newest_bar_et, age, entitlement, bars_expected, flagged
FROM reporting.freshness
ORDER BY symbol
