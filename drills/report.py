"""What a drill prints: the steps as they happen, then each count expected and found."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    what: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        return self.expected == self.found


class Report:
    def __init__(self, drill: str) -> None:
        self.drill = drill
        self.checks: list[Check] = []
        self._started = time.monotonic()
        self._phase = ""

    def step(self, text: str) -> None:
        print(f"[{self.drill} {time.monotonic() - self._started:6.1f}s] {text}", flush=True)

    def check(self, what: str, expected: Any, found: Any) -> bool:
        self.checks.append(Check(f"{self._phase}{what}", expected, found))
        return self.checks[-1].ok

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Checks made inside are labelled with the phase's name."""
        self._phase = f"{name}: "
        try:
            yield
        finally:
            self._phase = ""

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.failures

    def print_checks(self) -> None:
        print(f"\n{self.drill}: expected and found")
        for check in self.checks:
            print(f"  {'ok  ' if check.ok else 'FAIL'} {check.what}: expected {check.expected}, found {check.found}")
        print(f"{self.drill}: {'PASSED' if self.ok else f'FAILED ({len(self.failures)} of {len(self.checks)})'}",
              flush=True)
