"""The drain job with a sink that kills its own process group (kill -9 of spark-submit) at one point
of one batch: CRASH_POINT=before (before the batch's transaction) or after (after its commit, before
Spark records the batch in its checkpoint), CRASH_BATCH=<batch id>. Used by test_spark_drain only."""

import os
import signal
import sys

from market_pipeline.load.sink import ExactlyOnceSink
from market_pipeline.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # spark-submit puts only this file's folder on the path
from spark_apps import drain_bars_to_warehouse  # noqa: E402


class CrashingSink(ExactlyOnceSink):
    def write(self, rows, batch_id):
        crash_here = batch_id == int(os.environ["CRASH_BATCH"])
        if crash_here and os.environ["CRASH_POINT"] == "before":
            os.killpg(os.getpgid(0), signal.SIGKILL)
        super().write(rows, batch_id)
        if crash_here and os.environ["CRASH_POINT"] == "after":
            os.killpg(os.getpgid(0), signal.SIGKILL)


if __name__ == "__main__":
    drain_bars_to_warehouse.main(sink_factory=CrashingSink)
