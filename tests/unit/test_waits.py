"""The harness's polling waits, without services."""

import pytest

from harness.waits import wait_for, wait_until


def test_a_wait_returns_the_conditions_first_true_value():
    answers = iter([None, [], ["run-1"]])
    assert wait_until(lambda: next(answers), 5, interval=0.01) == ["run-1"]


def test_a_wait_that_runs_out_of_time_is_false():
    assert wait_until(lambda: False, 0.2, interval=0.05) is False


def test_a_failed_wait_for_says_the_last_state_it_saw():
    seen = []

    def done() -> bool:
        seen.append(len(seen))
        return False

    with pytest.raises(AssertionError, match=r"still running after \d+ polls"):
        wait_for(done, 0.2, lambda: f"still running after {len(seen)} polls", interval=0.05)
