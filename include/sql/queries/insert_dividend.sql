INSERT INTO market.dividends
    (symbol, ex_dividend_date, amount, declaration_date, record_date, payment_date, fetched_at)
VALUES
    (%(symbol)s, %(ex_dividend_date)s, %(amount)s, %(declaration_date)s, %(record_date)s, %(payment_date)s,
     %(fetched_at)s)
