"""Replays trading days of the fetch step against the simulator on a virtual clock.

The DAG's own fetch step (`fetch.live.fetch_and_publish`) runs every 90 simulated
seconds, and the corporate actions check (`fetch.corporate_actions`) on its
DAG's schedule, with the real client over HTTP, the real planner and the same
ledger rules; only the ledger's storage (memory instead of an Airflow Variable),
the publisher (a list instead of Kafka) and the actions' store (a list) are
local.  Each day reports the requests made (per UTC quota day), those for
corporate actions among them, the throttled answers, and the bars of the
session that never arrived, regular and extended hours apart.

Used by the simulated-days test and the benchmark's quota figures.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from market_pipeline.bars import Bar
from market_pipeline.fetch.alphavantage import AlphaVantageClient
from market_pipeline.fetch.corporate_actions import CHECK_EVERY, SymbolActions, check_corporate_actions
from market_pipeline.fetch.ledger_store import MemoryLedgerStore
from market_pipeline.fetch.live import fetch_and_publish
from market_pipeline.pipeline_config import PipelineConfig
from market_pipeline.settings import BARS_TOPIC
from market_pipeline.simulator import market
from market_pipeline.simulator.server import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server
from market_pipeline.trading_calendar import EASTERN, session_bounds, trading_days

RUN_EVERY = timedelta(seconds=90)
REPLAY_KEY = "replay-key"


@dataclass(frozen=True)
class DayReport:
    day: date
    trading: bool
    calls: int  # requests sent during this UTC day
    action_calls: int  # of which SPLITS and DIVIDENDS
    throttled: int
    missing_regular: int  # summed over the watchlist
    missing_extended: int

    def line(self) -> str:
        kind = "session" if self.trading else "closed "
        return (f"{self.day} {self.day:%a} {kind} calls={self.calls:<5} (actions {self.action_calls}) "
                f"throttled={self.throttled} "
                f"missing_regular={self.missing_regular} missing_extended={self.missing_extended}")


@contextmanager
def _serving(simulator: AlphaVantageSimulator) -> Iterator[str]:
    server = make_server(simulator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/query"
    finally:
        server.shutdown()
        server.server_close()


def replay_days(
    config: PipelineConfig, options: SimulatorOptions, first: date, last: date,
    actions: list[SymbolActions] | None = None,
) -> list[DayReport]:
    """Run the fetch every 90 s and the actions check every 6 h from `first` 00:00 US/Eastern
    until `last` ends, on a frozen clock that only pacing sleeps and the steps move; the actions
    fetched are appended to `actions`."""
    clock = SimClock(datetime.combine(first, datetime.min.time(), EASTERN), speed=0)
    simulator = AlphaVantageSimulator(clock, options)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), EASTERN)
    store = MemoryLedgerStore()
    published: list = []
    recorded = actions if actions is not None else []
    calls_per_day: Counter[date] = Counter()
    action_calls_per_day: Counter[date] = Counter()
    throttled_per_day: Counter[date] = Counter()
    with _serving(simulator) as base_url:
        def connect(observer):
            return AlphaVantageClient(base_url, REPLAY_KEY, entitlement=config.entitlement, observer=observer,
                                      max_attempts=1)

        def sleep(seconds: float) -> None:
            clock.advance(timedelta(seconds=seconds))

        tick = next_actions_check = clock.now()
        while tick < end:
            clock.set(tick)
            served, throttled = simulator.requests_served, simulator.throttled_answers
            if tick >= next_actions_check:
                check_corporate_actions(connect, store, lambda found: recorded.append(found) or True, config,
                                        now=clock.now, sleep=sleep)
                action_calls_per_day[tick.date()] += simulator.requests_served - served
                next_actions_check += CHECK_EVERY
            fetch_and_publish(
                connect, store, lambda messages: published.extend(messages) or len(messages), config,
                now=clock.now, sleep=sleep,
            )
            calls_per_day[tick.date()] += simulator.requests_served - served
            throttled_per_day[tick.date()] += simulator.throttled_answers - throttled
            tick += RUN_EVERY

    bar_times = {(bar.symbol, bar.bar_time) for bar in
                 (Bar.model_validate_json(m.value) for m in published if m.topic == BARS_TOPIC)}
    sessions = set(trading_days(first, last))
    reports = []
    day = first
    while day <= last:
        missing = Counter()
        if day in sessions:
            regular_start, regular_end = session_bounds(day, extended_hours=False)
            for symbol in config.watchlist:
                for bar in market.day_bars(symbol, config.interval, day, config.extended_hours):
                    if (symbol, bar.start) not in bar_times:
                        missing["regular" if regular_start <= bar.start < regular_end else "extended"] += 1
        reports.append(DayReport(day, day in sessions, calls_per_day[day], action_calls_per_day[day],
                                 throttled_per_day[day],
                                 missing["regular"], missing["extended"]))
        day += timedelta(days=1)
    return reports
