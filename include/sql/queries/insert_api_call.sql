INSERT INTO market.api_calls
    (requested_at, dag_id, run_id, try_number, function, symbol, month, entitlement, outcome, http_status, bars)
VALUES
    (%(requested_at)s, %(dag_id)s, %(run_id)s, %(try_number)s, %(function)s, %(symbol)s, %(month)s,
     %(entitlement)s, %(outcome)s, %(http_status)s, %(bars)s)
