-- What the fetch tasks know of each symbol, moved out of the quota ledger's Airflow Variable.
-- That Variable is read and written before every API request; holding each symbol's watermark and
-- every history month loaded, it grew to 18 MB at 500 symbols x 20 years. Here each row is written
-- when its symbol or month changes, and the Variable keeps only the quota counters (kilobytes).
-- `ledger` is the quota Variable's name: a test's sandbox, with a ledger of its own, has symbols
-- of its own too. market_pipeline.fetch.ledger_store reads and writes these tables, and moves the
-- symbols of a Variable written before this migration here on its first read.
CREATE TABLE market.symbol_fetch_state (
    ledger              text        NOT NULL,
    symbol              text        NOT NULL,
    watermark           timestamptz,            -- bar_time of the newest live bar published
    last_fetch_at       timestamptz,
    flagged             text,                   -- why the API rejected the symbol: skipped
    actions_checked_at  timestamptz,            -- splits and dividends last fetched
    PRIMARY KEY (ledger, symbol)
);

-- A history month of one symbol, published whole (or answered as unavailable).
CREATE TABLE market.history_months (
    ledger        text        NOT NULL,
    symbol        text        NOT NULL,
    month         text        NOT NULL CHECK (month ~ '^\d{4}-\d{2}$'),
    run_id        text        NOT NULL,
    clear_number  integer     NOT NULL,  -- the run's clear number: a run cleared since loads again
    bars          integer     NOT NULL,
    loaded_at     timestamptz NOT NULL,
    unavailable   text,                  -- the API's answer for a month before listing or ahead
    as_traded     boolean     NOT NULL,  -- false: loaded adjusted, before the fetch asked as traded
    PRIMARY KEY (ledger, symbol, month)
);
