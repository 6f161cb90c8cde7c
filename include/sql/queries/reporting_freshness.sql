SELECT symbol, newest_bar_et, age, entitlement, bars_expected, flagged, watchdog_stale, watchdog_reason
FROM reporting.freshness
ORDER BY symbol
