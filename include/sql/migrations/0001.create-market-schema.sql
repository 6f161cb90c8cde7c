-- The warehouse's raw layer: one row per bar, every rejected record, and the
-- bookkeeping that makes the Spark sink exactly-once.
CREATE SCHEMA IF NOT EXISTS market;

-- One row per (symbol, interval, bar_time); a revised bar replaces the older
-- version (the later fetch wins). Prices are exact decimals, times UTC.
CREATE TABLE market.bars (
    symbol           text          NOT NULL,
    interval         text          NOT NULL,
    bar_time         timestamptz   NOT NULL,
    open             numeric(18,6) NOT NULL,
    high             numeric(18,6) NOT NULL,
    low              numeric(18,6) NOT NULL,
    close            numeric(18,6) NOT NULL,
    volume           bigint        NOT NULL CHECK (volume >= 0),
    fetched_at       timestamptz   NOT NULL,
    source_topic     text          NOT NULL,
    source_partition integer       NOT NULL,
    source_offset    bigint        NOT NULL,
    loaded_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, interval, bar_time),
    CHECK (low > 0 AND high >= greatest(open, close) AND low <= least(open, close))
);
-- The primary key serves per-symbol time ranges; this one serves "all symbols
-- between two times", the dashboard's other question.
CREATE INDEX bars_bar_time_idx ON market.bars (bar_time);

-- Every record that could not become a bar, with where it came from and why.
CREATE TABLE market.quarantine (
    quarantine_id    bigserial   PRIMARY KEY,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    message_key      text,
    raw_value        text,
    reason           text        NOT NULL,
    quarantined_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset)
);

-- One row per committed Spark micro-batch, written in the batch's own
-- transaction: a batch replayed after a crash finds its row and is skipped.
CREATE TABLE market.ingest_batches (
    query_name        text        NOT NULL,
    batch_id          bigint      NOT NULL,
    offset_ranges     jsonb       NOT NULL,
    messages          integer     NOT NULL,
    bars_upserted     integer     NOT NULL,
    rows_quarantined  integer     NOT NULL,
    committed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query_name, batch_id)
);

-- The next Kafka offset each query will read, per partition: compared with the
-- topic's end offsets to decide whether a drain is needed at all.
CREATE TABLE market.ingest_offsets (
    query_name   text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query_name, topic, partition)
);
