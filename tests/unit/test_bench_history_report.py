"""The history benchmark's verdicts: each target met, or missed by how much, at the size it names."""

from bench.history_report import PAGE_QUERIES, targets


def size_result(live_refresh: float, month_refresh: float, query_ms: float) -> dict:
    return {"live": {"refresh_median_seconds": live_refresh}, "month": {"refresh_median_seconds": month_refresh},
            "queries": {name: {"median_ms": query_ms, "rows": 1} for name in PAGE_QUERIES}}


def verdicts(history: dict) -> dict[str, tuple]:
    return {row["target"]: (row["measured"], row["met"], row["missed_by_times"]) for row in targets(history)}


def test_targets_are_judged_at_10m_bars_and_the_slope_against_1m():
    history = {"sizes": {"1000000": size_result(0.4, 9.0, 900.0), "10000000": size_result(0.8, 2.0, 120.0)}}
    found = verdicts(history)
    assert found["live drain's refresh ≤ 1 s at 10M bars"] == (0.8, True, None)
    assert found["history month's refresh ≤ 3 s at 10M bars"] == (2.0, True, None)
    assert found["page query `reporting_prices_5_days` ≤ 300 ms at 10M bars"] == (120.0, True, None)
    assert found["live drain's refresh at 10M ≤ 1.5× at 1M"] == (2.0, False, 1.33)


def test_a_run_smaller_than_10m_is_judged_at_its_largest_size_without_a_slope():
    history = {"sizes": {"20000": size_result(1.5, 1.0, 10.0)}}
    found = verdicts(history)
    assert found["live drain's refresh ≤ 1 s at 10M bars"] == (1.5, False, 1.5)
    assert not any("1.5×" in target for target in found)


def test_a_run_past_10m_without_that_size_judges_nothing_at_it():
    history = {"sizes": {"30000000": size_result(0.5, 1.0, 10.0)}}
    assert targets(history) == []
