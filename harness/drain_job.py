"""The drain launched directly, as the DAG's operator launches it (`market_pipeline.load.drain_submit`),
in a process group of its own: a kill reaches spark-submit's JVM and its Python driver, nothing
else (on a Spark Connect server, the query itself runs on in the server)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from market_pipeline.load.drain_submit import DRAIN_APP, DrainSubmit
from market_pipeline.pipeline_config import default_config


@dataclass
class DrainJob:
    bootstrap: str
    topics: dict[str, str]
    checkpoint: Path
    warehouse_uri: str
    query_name: str = "test_drain"
    max_offsets_per_trigger: int = field(default_factory=lambda: default_config().max_offsets_per_trigger)
    # A Spark Connect server's sc:// URL to run on (drain_session connect); empty: a Spark of its own.
    spark_connect_url: str = ""
    # spark-submit's --master: a Spark of the launch's own, or a standalone cluster's spark:// URL.
    master: str = "local[2]"

    def launch(self) -> DrainSubmit:
        return DrainSubmit(bootstrap_servers=self.bootstrap, bars_topic=self.topics["bars"],
                           dead_letter_topic=self.topics["dead_letter"], checkpoint=str(self.checkpoint),
                           query_name=self.query_name, max_offsets_per_trigger=str(self.max_offsets_per_trigger),
                           warehouse_uri=self.warehouse_uri, spark_connect_url=self.spark_connect_url)

    def command(self, app: str | Path = DRAIN_APP) -> list[str]:
        return self.launch().command(str(Path(sys.executable).parent / "spark-submit"), self.master, str(app))

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.launch().env_vars(), **extra}

    def run(self, app: str | Path = DRAIN_APP, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(app), env=self.env(**extra_env), capture_output=True, text=True,
                              timeout=300, start_new_session=True)

    def start(self, app: str | Path = DRAIN_APP, **extra_env: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(app), env=self.env(**extra_env), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
