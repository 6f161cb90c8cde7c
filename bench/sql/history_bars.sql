-- One month of synthetic 5-minute bars for the history benchmark, every extended-hours slot of
-- every session in [first_day, end_day) for symbols H01 .. H<symbols>, straight into market.bars
-- (the bulk path: no Kafka, no Spark; the trigger queues the days as a drain's write would).
-- Rows come symbol by symbol, each in time order, as a history run's batches write them.
-- Prices follow slow waves per symbol with a little noise; high and low bracket open and close,
-- so every row passes the table's checks.
INSERT INTO market.bars (symbol, interval, bar_time, open, high, low, close, volume, fetched_at,
                         source_topic, source_partition, source_offset)
SELECT sym.symbol, '5min', slot.bar_time, p.open, greatest(p.open, p.close) + p.wick,
       least(p.open, p.close) - p.wick, p.close, 1000 + (random() * 5000)::int, slot.bar_time + interval '1 day',
       'bench.history', 0, sym.n * 100000000 + extract(epoch FROM slot.bar_time)::bigint / 300
FROM generate_series(1, %(symbols)s) AS sym_n (n)
CROSS JOIN LATERAL (SELECT sym_n.n, 'H' || lpad(sym_n.n::text, 2, '0') AS symbol) AS sym
CROSS JOIN market.trading_sessions AS s
CROSS JOIN LATERAL generate_series(s.extended_open, s.extended_close - interval '5 minutes', interval '5 minutes')
    AS slot (bar_time)
CROSS JOIN LATERAL (
    SELECT ((20 + 10 * sym.n) * exp(0.25 * sin((s.session_date - date '2000-01-01') / 60.0 + sym.n)
                                    + 0.05 * sin(extract(epoch FROM slot.bar_time)::float8 / 3600)))::numeric AS level
) AS wave
CROSS JOIN LATERAL (
    SELECT round(wave.level, 4) AS open, round(wave.level * (1 + (random()::numeric - 0.5) * 0.004), 4) AS close,
           round(random()::numeric * 0.002 * wave.level, 4) AS wick
) AS p
WHERE s.session_date >= %(first_day)s AND s.session_date < %(end_day)s
ORDER BY sym.n, slot.bar_time
