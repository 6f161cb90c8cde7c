-- One symbol's stored dividends, to tell whether a new DIVIDENDS reply changes them.
SELECT ex_dividend_date, amount, declaration_date, record_date, payment_date
FROM market.dividends WHERE symbol = %(symbol)s ORDER BY ex_dividend_date
