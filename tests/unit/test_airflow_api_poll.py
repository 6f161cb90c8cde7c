"""The REST client's waits: they return what satisfied them, say what they last saw when they
give up, and let an error of the read end them at once."""

import pytest

from market_pipeline.in_airflow.airflow_api import AirflowApiError, poll


def test_poll_returns_the_first_read_that_is_done():
    reads = iter([{"state": "queued"}, {"state": "running"}, {"state": "success"}])
    assert poll(lambda: next(reads), lambda run: run["state"] == "success", 10, str) == {"state": "success"}


def test_poll_gives_up_with_what_it_read_last():
    with pytest.raises(AirflowApiError, match="^still running$"):
        poll(lambda: "running", lambda state: state == "success", 1, lambda state: f"still {state}")


def test_an_error_of_the_read_ends_the_wait_at_once():
    reads = []

    def read():
        reads.append(1)
        raise AirflowApiError("DAG import errors: [...]")

    with pytest.raises(AirflowApiError, match="import errors"):
        poll(read, bool, 60, str)
    assert len(reads) == 1
