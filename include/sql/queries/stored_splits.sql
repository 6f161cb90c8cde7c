-- One symbol's stored splits, to tell whether a new SPLITS reply changes them.
SELECT effective_date, split_factor FROM market.splits WHERE symbol = %(symbol)s ORDER BY effective_date
