"""Section 6: the API quota over simulated trading days, free and premium.

`market_pipeline.simulator.replay.replay_days` runs the DAG's fetch step every
90 simulated seconds against the simulator enforcing the key's limits and
entitlement (as `tests/unit/test_simulated_trading_days.py` does): per UTC day
the requests sent, the throttled answers, and the session's bars that never
arrived.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date

from bench.measure import progress
from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.simulator import SimulatorOptions
from market_pipeline.simulator.replay import replay_days

# Tuesday to Saturday of Thanksgiving week 2026: two full sessions, a closed day, a half day, a weekend day.
FIRST, LAST = date(2026, 11, 24), date(2026, 11, 28)
# The smoke replays one day: Thanksgiving, closed, whose UTC day still holds Wednesday's post-market.
SMOKE_DAY = date(2026, 11, 26)
PLANS = {
    # name: (entitlement of the key and of the pipeline's config, quota)
    "free": ("none", QuotaConfig(per_day=25, per_minute=None, per_second=1)),
    "premium": ("realtime", QuotaConfig(per_day=None, per_minute=75, per_second=5)),
}
WATCHLIST = ["TSLA", "MSFT", "GOOGL"]


def replay(plan: str, first: date, last: date) -> dict:
    entitlement, quota = PLANS[plan]
    config = PipelineConfig(
        watchlist=WATCHLIST, interval="5min", outputsize="compact", extended_hours=True, entitlement=entitlement,
        fetch_when_closed=False, quota=quota, max_offsets_per_trigger=1000,
    )
    options = SimulatorOptions(per_second=int(quota.per_second), per_minute=quota.per_minute,
                               per_day=quota.per_day, key_entitlement=entitlement)
    started = time.perf_counter()
    reports = replay_days(config, options, first, last)
    return {
        "entitlement": entitlement, "quota": quota.model_dump(), "watchlist": WATCHLIST,
        "replay_seconds": round(time.perf_counter() - started, 1),
        "days": [{**asdict(report), "day": report.day.isoformat()} for report in reports],
        "calls": sum(report.calls for report in reports),
        "throttled": sum(report.throttled for report in reports),
        "missing": sum(report.missing_regular + report.missing_extended for report in reports),
    }


def run(smoke: bool) -> dict:
    first, last = (SMOKE_DAY, SMOKE_DAY) if smoke else (FIRST, LAST)
    return {plan: replay(plan, first, last) for plan in progress(PLANS, desc="quota: simulated days")}
