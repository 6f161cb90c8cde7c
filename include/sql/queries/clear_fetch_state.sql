-- One run's view of the watchlist replaces the last one (symbols dropped from it go).
DELETE FROM market.fetch_state;
