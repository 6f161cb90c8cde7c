INSERT INTO market.freshness_checks (symbol, checked_at, newest_bar, bars_expected, stale, reason)
VALUES (%(symbol)s, %(checked_at)s, %(newest_bar)s, %(bars_expected)s, %(stale)s, %(reason)s)
ON CONFLICT (symbol) DO UPDATE SET
    checked_at = EXCLUDED.checked_at, newest_bar = EXCLUDED.newest_bar,
    bars_expected = EXCLUDED.bars_expected, stale = EXCLUDED.stale, reason = EXCLUDED.reason
