INSERT INTO market.fetch_state
    (symbol, interval, entitlement, extended_hours, data_delay, flagged, requests_per_day, recorded_at)
VALUES
    (%(symbol)s, %(interval)s, %(entitlement)s, %(extended_hours)s, %(data_delay)s, %(flagged)s,
     %(requests_per_day)s, %(recorded_at)s)
