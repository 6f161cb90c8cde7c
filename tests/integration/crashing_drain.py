"""The drain job with a sink that dies by SIGKILL at one point of one batch: CRASH_POINT=before
(before the batch's transaction) or after (after its commit, before Spark records the batch in its
checkpoint), CRASH_BATCH=<batch id>. On a Spark of the launch's own the sink runs in spark-submit's
Python driver and kills its process group (kill -9 of spark-submit); on a Spark Connect server it
runs in the Python worker beside the server and kills that worker alone, which fails the query
and, with it, the launch. Used by test_spark_drain only."""

import os
import signal
import sys

from market_pipeline.load.sink import ExactlyOnceSink
from market_pipeline.load.spark_connect import SPARK_CONNECT_URL_ENV
from market_pipeline.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # spark-submit puts only this file's folder on the path
from spark_apps import drain_bars_to_warehouse  # noqa: E402


class CrashingSink(ExactlyOnceSink):
    # Read where the launch starts, carried in the pickled sink to where it runs.
    def __init__(self, warehouse_uri: str, query_name: str) -> None:
        super().__init__(warehouse_uri, query_name)
        self.crash_batch = int(os.environ["CRASH_BATCH"])
        self.crash_point = os.environ["CRASH_POINT"]
        self.whole_launch = not os.environ.get(SPARK_CONNECT_URL_ENV)

    def write(self, rows, batch_id):
        crash_here = batch_id == self.crash_batch
        if crash_here and self.crash_point == "before":
            self._die()
        super().write(rows, batch_id)
        if crash_here and self.crash_point == "after":
            self._die()

    def _die(self):
        if self.whole_launch:
            os.killpg(os.getpgid(0), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    drain_bars_to_warehouse.main(sink_factory=CrashingSink)
