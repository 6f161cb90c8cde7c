"""Trading days of every quota plan against the simulator with the API's limits.

Tuesday 2026-11-24 to Saturday 2026-11-28: two full sessions, Thanksgiving
(closed) and its half day (13:00 close, post-market to 17:00).  Each plan's
key has the limits and entitlement the simulator enforces; the fetch runs
every 90 s, the corporate actions check every 6 h.  Every plan must stay
within its limits with the actions' requests included, be throttled never,
miss no bar, regular or extended hours, and check every symbol's actions.
"""

from datetime import date

import pytest

from market_pipeline.pipeline_config import PipelineConfig, QuotaConfig
from market_pipeline.simulator import SimulatorOptions
from market_pipeline.simulator.replay import replay_days

FIRST, LAST = date(2026, 11, 24), date(2026, 11, 28)
FREE = QuotaConfig(per_day=25, per_minute=None, per_second=1)
PREMIUM = QuotaConfig(per_day=None, per_minute=75, per_second=5)
PLANS = {
    # name: (entitlement the key has and the pipeline asks for, quota)
    "free, end-of-day": ("none", FREE),
    "capped, delayed": ("delayed", FREE),
    "capped, realtime": ("realtime", FREE),
    "premium, delayed": ("delayed", PREMIUM),
    "premium, realtime": ("realtime", PREMIUM),
}


@pytest.mark.parametrize("plan", PLANS)
def test_plan_stays_within_limits_unthrottled_and_misses_no_bar(plan, capsys):
    entitlement, quota = PLANS[plan]
    config = PipelineConfig(
        watchlist=["TSLA", "MSFT", "GOOGL"], interval="5min", outputsize="compact", extended_hours=True,
        entitlement=entitlement, fetch_when_closed=False, quota=quota, max_offsets_per_trigger=1000,
    )
    options = SimulatorOptions(per_second=int(quota.per_second), per_minute=quota.per_minute,
                               per_day=quota.per_day, key_entitlement=entitlement)
    actions = []
    reports = replay_days(config, options, FIRST, LAST, actions)
    with capsys.disabled():
        print(f"\nsimulated days, {plan} (entitlement={entitlement}, per_day={quota.per_day}, "
              f"per_minute={quota.per_minute}):")
        for report in reports:
            print(f"  {report.line()}")

    assert [report.trading for report in reports] == [True, True, False, True, False]
    assert all(report.throttled == 0 for report in reports)
    assert all(report.missing_regular == 0 and report.missing_extended == 0 for report in reports)
    if quota.per_day is not None:
        assert all(report.calls <= quota.per_day for report in reports)
    assert sorted(found.symbol for found in actions) == ["GOOGL", "MSFT", "TSLA"], "each symbol once in the week"
    assert sum(report.action_calls for report in reports) == 6
    tsla = next(found for found in actions if found.symbol == "TSLA")
    assert [(split.effective_date.isoformat(), split.split_factor) for split in tsla.splits] == [
        ("2020-08-31", 5), ("2022-08-25", 3)]
