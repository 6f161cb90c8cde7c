-- Per-transaction staging for one micro-batch: COPY lands here, then one
-- statement moves it into the warehouse tables.
CREATE TEMP TABLE stage_bars (LIKE market.bars INCLUDING DEFAULTS) ON COMMIT DROP;
CREATE TEMP TABLE stage_quarantine (LIKE market.quarantine INCLUDING DEFAULTS) ON COMMIT DROP;
