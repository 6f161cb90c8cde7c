"""Which prices a chart draws. The warehouse stores bars as traded; the reporting views add them
split-adjusted to the latest basis (`*_adj`, prices divided and volumes multiplied by the splits
since), which is what charts show by default: a split then leaves no cliff in a line or an average."""

from __future__ import annotations

from enum import StrEnum


class PriceBasis(StrEnum):
    ADJUSTED = "adjusted"
    TRADED = "traded"

    @property
    def label(self) -> str:
        return {"adjusted": "split-adjusted to the latest basis", "traded": "as traded"}[self.value]

    def column(self, name: str) -> str:
        """The reporting column holding `name` (open, high, low, close, volume) on this basis."""
        return f"{name}_adj" if self is PriceBasis.ADJUSTED else name
