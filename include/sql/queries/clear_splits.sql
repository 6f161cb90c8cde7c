DELETE FROM market.splits WHERE symbol = %(symbol)s
