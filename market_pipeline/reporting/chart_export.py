"""A PNG of recent prices per symbol, for people who want a picture without opening a tool
(`python -m market_pipeline.cli chart`). Reads the reporting schema as market_reader."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import groupby
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, ScalarFormatter  # noqa: E402

from market_pipeline import warehouse  # noqa: E402
from market_pipeline.reporting.price_basis import PriceBasis  # noqa: E402

LINE_COLOURS = {PriceBasis.ADJUSTED: "#2b6cb0", PriceBasis.TRADED: "#c05621"}


def write_recent_prices_png(
    uri: str, output: Path, sessions: int, bases: Sequence[PriceBasis] = (PriceBasis.ADJUSTED,), *,
    symbols: list[str] | None = None, through: date | None = None,
) -> dict[str, tuple[int, int]]:
    """The closes of each symbol's last `sessions` loaded sessions up to `through` (default: the
    latest), one line per basis. Returns {symbol: (sessions, bars)} as drawn."""
    rows = warehouse.read(uri, "reporting_recent_closes", {"sessions": sessions, "symbols": symbols,
                                                           "through": through})
    if not rows:
        raise ValueError("no bars in the reporting schema for that choice: run the pipeline first")
    figure, drawn = closes_figure(rows, bases)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return drawn


def closes_figure(rows: list[dict], bases: Sequence[PriceBasis]) -> tuple[Figure, dict[str, tuple[int, int]]]:
    """One panel per symbol of the rows (symbol, bar_time_et, close, close_adj; by symbol, then
    time): extended hours included, bar after bar (no empty nights), each basis named."""
    by_symbol = {symbol: list(bars) for symbol, bars in groupby(rows, key=lambda row: row["symbol"])}
    figure, axes = plt.subplots(len(by_symbol), 1, figsize=(11, 2.6 * len(by_symbol)), squeeze=False)
    drawn = {}
    for ax, (symbol, bars) in zip(axes[:, 0], by_symbol.items(), strict=True):
        for basis in bases:
            ax.plot(range(len(bars)), [float(bar[basis.column("close")]) for bar in bars], linewidth=1.1,
                    color=LINE_COLOURS[basis], label=basis.label)
        if len(bases) > 1:
            # A split moves the traded line by its ratio: a log scale keeps both lines' moves readable.
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(LogLocator(subs=(2, 5)))
            for axis_ticks in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                axis_ticks(ScalarFormatter())
            ax.legend(loc="upper right", fontsize=8)
        # A tick at each session's first bar, labelled with its date.
        days = [bar["bar_time_et"].date() for bar in bars]
        starts = [i for i, day in enumerate(days) if i == 0 or day != days[i - 1]]
        ax.set_xticks(starts, [bars[i]["bar_time_et"].strftime("%a %d %b") for i in starts])
        last = bars[-1]
        closes = ", ".join(f"{last[basis.column('close')].normalize()} {basis.label}" for basis in bases)
        ax.set_title(f"{symbol}: last close {closes}, at {last['bar_time_et']:%Y-%m-%d %H:%M} US/Eastern",
                     loc="left", fontsize=10)
        ax.set_ylabel("USD")
        ax.grid(alpha=0.3)
        drawn[symbol] = (len(starts), len(bars))
    figure.tight_layout()
    return figure, drawn
