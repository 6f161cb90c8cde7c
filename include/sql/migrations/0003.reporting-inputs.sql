-- What the reporting layer reads beyond bars, quarantine and the API call log:
-- the exchange calendar, what the live fetch expects per symbol, the Kafka lag
-- as the backlog check last saw it, and the freshness watchdog's verdicts.

-- NYSE sessions, written by warehouse.sync_trading_sessions from
-- market_pipeline.trading_calendar: the same session hours the fetch plans by.
CREATE TABLE market.trading_sessions (
    session_date    date        PRIMARY KEY,
    regular_open    timestamptz NOT NULL,
    regular_close   timestamptz NOT NULL,   -- 13:00 US/Eastern on half days
    extended_open   timestamptz NOT NULL,
    extended_close  timestamptz NOT NULL,   -- four hours after the regular close
    published_at    timestamptz NOT NULL,   -- when keys without an entitlement see the session
    half_day        boolean     NOT NULL
);

-- The watchlist as the last live fetch saw it, one row per symbol, replaced by every run:
-- what the key may see and how many requests a day it may make.
CREATE TABLE market.fetch_state (
    symbol            text        PRIMARY KEY,
    interval          text        NOT NULL,
    entitlement       text        NOT NULL,   -- none, delayed or realtime
    extended_hours    boolean     NOT NULL,
    data_delay        interval,               -- how old a bar must be to be served; null for none
    flagged           text,                   -- why the API rejected the symbol, if it did
    requests_per_day  integer,                -- null: the key has no daily cap
    recorded_at       timestamptz NOT NULL
);

-- Per drain query and partition: the topic's end offset and the warehouse's committed
-- offset when the backlog check last compared them.
CREATE TABLE market.topic_lag (
    query_name        text        NOT NULL,
    topic             text        NOT NULL,
    partition         integer     NOT NULL,
    end_offset        bigint      NOT NULL,
    committed_offset  bigint      NOT NULL,
    checked_at        timestamptz NOT NULL,
    PRIMARY KEY (query_name, topic, partition)
);

-- The freshness watchdog's last verdict per symbol (market_freshness_watchdog DAG).
CREATE TABLE market.freshness_checks (
    symbol         text        PRIMARY KEY,
    checked_at     timestamptz NOT NULL,
    newest_bar     timestamptz,
    bars_expected  boolean     NOT NULL,
    stale          boolean     NOT NULL,
    reason         text        NOT NULL
);

-- The operators' question: what was quarantined lately.
CREATE INDEX quarantine_quarantined_at_idx ON market.quarantine (quarantined_at);
