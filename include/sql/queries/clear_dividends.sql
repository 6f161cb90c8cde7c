DELETE FROM market.dividends WHERE symbol = %(symbol)s
