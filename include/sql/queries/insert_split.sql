INSERT INTO market.splits (symbol, effective_date, split_factor, fetched_at)
VALUES (%(symbol)s, %(effective_date)s, %(split_factor)s, %(fetched_at)s)
