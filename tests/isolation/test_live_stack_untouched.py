"""The test suite leaves the live stack as it found it (`bin/stack test` stage 3).

`bin/stack test` snapshots the live stack (`tests.isolation.live_stack`) before the integration
stage, which runs on the test stack, and this compares that snapshot with one taken now."""

import json
import os
from pathlib import Path

import pytest

from tests.isolation.live_stack import differences, live_state_dir, snapshot

pytestmark = pytest.mark.isolation


def test_the_suite_left_the_live_stack_as_it_found_it(capsys):
    path = os.environ.get("STOCKPIPE_LIVE_STACK_BEFORE")
    if not path:
        pytest.fail("no snapshot of the live stack from before the suite: run this with `bin/stack test`")
    before, after = json.loads(Path(path).read_text()), snapshot(live_state_dir())
    with capsys.disabled():
        if before["running"]:
            airflow = before["airflow"]
            print(f"\nlive stack compared: {sum(map(len, airflow['runs'].values()))} runs, "
                  f"{len(airflow['variables'])} Variables, {len(airflow['pools'])} pools, "
                  f"{len(before['kafka'])} topics, {before['warehouse']['bars']} bars, "
                  f"{len(before['checkpoints'])} checkpoints")
        else:
            print(f"\nlive stack not running: compared its checkpoints only ({live_state_dir()})")
    assert differences(before, after) == []
