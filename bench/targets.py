"""A benchmark section's targets: each one judged against its limit, and the markdown table of them
that BENCHMARKS.md shows (met, or missed by how many times the limit)."""

from __future__ import annotations

from collections.abc import Callable


def judged(text: str, measured: float | None, limit: float, *, strictly_below: bool = False, **context) -> dict:
    """The target's row. Not judged (met None) when the run had nothing to measure it with."""
    met = None if measured is None else (measured < limit if strictly_below else measured <= limit)
    return {"target": text, **context, "measured": measured, "limit": limit, "met": met,
            "missed_by_times": round(measured / limit, 2) if met is False else None}


def _verdict(row: dict) -> str:
    if row["met"] is None:
        return "—"
    return "met" if row["met"] else f"missed ({row['missed_by_times']}× the limit)"


def table(rows: list[dict], number: Callable[[object], str], *, judged_at: bool = False) -> list[str]:
    """The targets' markdown table; `judged_at` adds the column saying at which size each was judged."""
    header = ["target", *(["judged at"] if judged_at else []), "measured", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([row["target"], *([row["judged_at"]] if judged_at else []),
                                 number(row["measured"]), _verdict(row)]) + " |" for row in rows]
    return lines
