-- The API call log: every HTTP request the fetch made to Alpha Vantage, the
-- client's retries included, written once per task try whatever its outcome.
-- Never the API key. A quota day is a UTC day: GROUP BY requested_at::date.
CREATE TABLE market.api_calls (
    api_call_id   bigserial   PRIMARY KEY,
    requested_at  timestamptz NOT NULL,
    dag_id        text        NOT NULL,
    run_id        text        NOT NULL,
    try_number    integer     NOT NULL,
    function      text        NOT NULL,
    symbol        text,
    month         text,          -- YYYY-MM of a history request
    entitlement   text        NOT NULL,
    outcome       text        NOT NULL,  -- ok, rate_limited, server_error, daily_limit_reached, ...
    http_status   integer,               -- null when no HTTP answer came (timeout, refused connection)
    bars          integer                -- bars in a time series reply
);
CREATE INDEX api_calls_requested_at_idx ON market.api_calls (requested_at);
