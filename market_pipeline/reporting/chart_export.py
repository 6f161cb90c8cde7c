"""A PNG of recent prices per symbol, for people who want a picture without opening a tool
(`python -m market_pipeline.cli chart`). Reads the reporting schema as market_reader."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from market_pipeline import warehouse  # noqa: E402


def write_recent_prices_png(uri: str, output: Path, sessions: int) -> dict[str, tuple[int, int]]:
    """One panel per symbol: the closes of its last `sessions` loaded sessions, extended hours
    included, bar after bar (no empty nights). Returns {symbol: (sessions, bars)} as drawn."""
    rows = warehouse.read(uri, "reporting_recent_closes", {"sessions": sessions})
    by_symbol = {symbol: list(bars) for symbol, bars in groupby(rows, key=lambda row: row["symbol"])}
    if not by_symbol:
        raise ValueError("no bars in the reporting schema yet: run the pipeline first")
    figure, axes = plt.subplots(len(by_symbol), 1, figsize=(11, 2.6 * len(by_symbol)), squeeze=False)
    drawn = {}
    for ax, (symbol, bars) in zip(axes[:, 0], by_symbol.items(), strict=True):
        ax.plot(range(len(bars)), [float(bar["close"]) for bar in bars], linewidth=1.1, color="#2b6cb0")
        # A tick at each session's first bar, labelled with its date.
        days = [bar["bar_time_et"].date() for bar in bars]
        starts = [i for i, day in enumerate(days) if i == 0 or day != days[i - 1]]
        ax.set_xticks(starts, [bars[i]["bar_time_et"].strftime("%a %d %b") for i in starts])
        last = bars[-1]
        ax.set_title(f"{symbol}: last close {last['close'].normalize()} at {last['bar_time_et']:%Y-%m-%d %H:%M} "
                     "US/Eastern", loc="left", fontsize=10)
        ax.set_ylabel("USD")
        ax.grid(alpha=0.3)
        drawn[symbol] = (len(starts), len(bars))
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return drawn
