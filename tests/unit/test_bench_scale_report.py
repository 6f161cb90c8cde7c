"""The scale benchmark's verdicts: each target met, or missed by how much, at the size it names."""

from bench.scale_report import targets

FLOOR_TARGET = "premium refresh of 500 symbols ≤ 1.5× the floor (requests / per-second limit)"
SAVE_TARGET = "ledger save < 10 ms"


def scale_result(ratios: dict[int, float], save_ms: float) -> dict:
    return {"premium": {"sizes": {str(size): {"ratio_to_floor": ratio} for size, ratio in ratios.items()}},
            "ledger": {"symbols": 500, "months": 240, "save_median_ms": save_ms}}


def verdicts(scale: dict) -> dict[str, tuple]:
    return {row["target"]: (row["judged_at"], row["measured"], row["met"], row["missed_by_times"])
            for row in targets(scale)}


def test_should_judge_the_refresh_at_500_symbols_and_the_save_against_10_ms():
    found = verdicts(scale_result({10: 3.0, 100: 1.6, 500: 1.2}, 12.5))
    assert found[FLOOR_TARGET] == ("500 symbols", 1.2, True, None)
    assert found[SAVE_TARGET] == ("500 symbols × 240 months", 12.5, False, 1.25)


def test_should_miss_by_how_much_when_the_refresh_is_slower_than_the_limit():
    found = verdicts(scale_result({500: 1.8}, 4.0))
    assert found[FLOOR_TARGET] == ("500 symbols", 1.8, False, 1.2)
    assert found[SAVE_TARGET][2:] == (True, None)


def test_should_not_meet_the_save_target_at_exactly_10_ms():
    assert verdicts(scale_result({500: 1.5}, 10.0))[SAVE_TARGET][2:] == (False, 1.0)
    assert verdicts(scale_result({500: 1.5}, 10.0))[FLOOR_TARGET][2] is True


def test_should_judge_a_smaller_run_at_its_largest_size():
    assert verdicts(scale_result({5: 0.6, 20: 0.5}, 3.0))[FLOOR_TARGET] == ("20 symbols", 0.5, True, None)


def test_should_judge_no_refresh_when_every_size_is_past_500():
    assert list(verdicts(scale_result({1000: 1.1}, 3.0))) == [SAVE_TARGET]
