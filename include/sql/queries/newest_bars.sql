-- Each symbol's newest bar of one interval (the primary key's index answers it per symbol).
SELECT s.symbol, (SELECT max(b.bar_time) FROM market.bars AS b
                  WHERE b.symbol = s.symbol AND b.interval = %(interval)s) AS newest_bar
FROM unnest(%(symbols)s::text[]) AS s (symbol)
