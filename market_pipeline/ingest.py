"""The fetch step: plan calls within the quota, fetch, validate, publish new bars.

Called by the DAG's fetch task through `market_pipeline.tasks`, and by the
simulated-day test with the same objects.  The ledger is saved after every API
call (a crash cannot hide a spent call) and after every publish (a watermark
only moves once Kafka has acknowledged the bars it covers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from market_pipeline.alphavantage import (
    AlphaVantageClient,
    DailyLimitReached,
    InvalidCall,
    MalformedReply,
    ReplyMismatch,
)
from market_pipeline.bars import Bar, RejectedBar, validate_series
from market_pipeline.config import PipelineConfig
from market_pipeline.kafka_io import Message
from market_pipeline.quota import Ledger, QuotaLimits, plan_calls
from market_pipeline.settings import BARS_TOPIC, DEAD_LETTER_TOPIC

log = logging.getLogger(__name__)

PACING_MARGIN_SECONDS = 0.05


class FetchIncomplete(Exception):
    """Some symbols' replies were unusable; the other symbols' bars were published."""


class LedgerStore(Protocol):
    def load(self) -> Ledger: ...

    def save(self, ledger: Ledger) -> None: ...


@dataclass
class FetchSummary:
    """What one fetch run did; returned to Airflow as the task's XCom (no secrets in it)."""

    planned: list[str] = field(default_factory=list)
    calls: int = 0
    bars_published: int = 0
    rejected_published: int = 0
    flagged: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    daily_limit_reached: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def fetch_and_publish(
    client: AlphaVantageClient,
    store: LedgerStore,
    publish: Callable[[list[Message]], int],
    config: PipelineConfig,
    limits: QuotaLimits,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchSummary:
    """One run of the fetch step.

    An unknown symbol is flagged and skipped; an unusable reply (malformed, or for another symbol
    or interval) fails only its symbol, and FetchIncomplete is raised once the others are published.
    Errors of the key or the account (invalid key, premium, throttling, server down) stop the run."""
    ledger = store.load()
    summary = FetchSummary()
    summary.planned = plan_calls(
        ledger, limits, config.watchlist, now(), extended_hours=config.extended_hours, force=force
    )
    log.info("planned calls: %s (%s spent today)", summary.planned or "none", ledger.calls_today)
    for symbol in summary.planned:
        _pace(ledger, limits, now, sleep)
        ledger.record_call(now())
        store.save(ledger)
        summary.calls += 1
        state = ledger.symbol(symbol)
        try:
            reply = client.intraday(
                symbol, config.interval, outputsize=config.outputsize, extended_hours=config.extended_hours
            )
        except InvalidCall as exc:
            state.flagged = str(exc)
            summary.flagged[symbol] = str(exc)
            store.save(ledger)
            log.warning("%s flagged and skipped from now on: %s", symbol, exc)
            continue
        except (MalformedReply, ReplyMismatch) as exc:
            summary.failed[symbol] = f"{type(exc).__name__}: {exc}"
            log.error("%s: reply rejected whole: %s", symbol, exc)
            continue
        except DailyLimitReached:
            ledger.mark_exhausted(now())
            store.save(ledger)
            summary.daily_limit_reached = True
            log.warning("daily limit reached; no more calls until %s", ledger.exhausted_until)
            break
        fetched_at = now()
        bars, rejected = validate_series(reply, fetched_at)
        new_bars = [bar for bar in bars if state.watermark is None or bar.bar_time > state.watermark]
        published = publish(_messages(new_bars, rejected))
        summary.bars_published += len(new_bars)
        summary.rejected_published += published - len(new_bars)
        if new_bars:
            state.watermark = new_bars[-1].bar_time
        state.last_fetch_at = fetched_at
        store.save(ledger)
        log.info("%s: %s new bars, %s rejected, watermark %s", symbol, len(new_bars), len(rejected), state.watermark)
    if summary.failed:
        raise FetchIncomplete(f"published {summary.bars_published} bars; unusable replies: {summary.failed}")
    return summary


def _pace(ledger: Ledger, limits: QuotaLimits, now: Callable[[], datetime], sleep: Callable[[float], None]) -> None:
    """Keep at least 1/per_second between calls: the API answers bursts with a throttle message."""
    if ledger.last_call_at is None:
        return
    wait = 1.0 / limits.per_second + PACING_MARGIN_SECONDS - (now() - ledger.last_call_at).total_seconds()
    if wait > 0:
        sleep(wait)


def _messages(bars: list[Bar], rejected: list[RejectedBar]) -> list[Message]:
    return [Message(BARS_TOPIC, bar.symbol.encode(), bar.to_message()) for bar in bars] + [
        Message(DEAD_LETTER_TOPIC, row.symbol.encode(), row.to_message()) for row in rejected
    ]
