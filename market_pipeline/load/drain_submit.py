"""The drain's spark-submit, described once: application, jars, Spark settings, arguments and
environment. The DAG's `DrainOperator` (with templated values), the benchmark's hook and the
tests' and drills' direct launches all take it from here, so they launch the job the same way."""

from __future__ import annotations

from dataclasses import dataclass

from market_pipeline.load.spark_connect import SPARK_CONNECT_URL_ENV
from market_pipeline.settings import PROJECT_ROOT, SPARK_APPS_DIR, SPARK_KAFKA_JARS

DRAIN_APP = str(SPARK_APPS_DIR / "drain_bars_to_warehouse.py")
# A short-lived JVM on 2 cores is done before C2's optimised code pays for its
# compilation: C1 alone drained 200k bars in 21-34 s against 44-84 s with the default (side by
# side, machine busy), and a launch with nothing to read is faster too.
DRAIN_SPARK_CONF = {"spark.driver.memory": "1g", "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}


@dataclass(frozen=True)
class DrainSubmit:
    """One drain query: its topics, checkpoint, batch bound and warehouse. Values may be Jinja
    templates (the operator renders them) or concrete strings."""

    bootstrap_servers: str
    bars_topic: str
    dead_letter_topic: str
    checkpoint: str
    query_name: str
    max_offsets_per_trigger: str
    warehouse_uri: str
    # The Spark Connect server's `sc://` URL to run on; empty: a Spark of the launch's own.
    spark_connect_url: str = ""

    def application_args(self) -> list[str]:
        return [
            "--bootstrap-servers", self.bootstrap_servers,
            "--bars-topic", self.bars_topic, "--dead-letter-topic", self.dead_letter_topic,
            "--checkpoint", self.checkpoint, "--query-name", self.query_name,
            "--max-offsets-per-trigger", self.max_offsets_per_trigger,
        ]

    def env_vars(self) -> dict[str, str]:
        # The URIs carry passwords and tokens: environment, not argv.
        connect = {SPARK_CONNECT_URL_ENV: self.spark_connect_url} if self.spark_connect_url else {}
        return {"WAREHOUSE_URI": self.warehouse_uri, "STOCKPIPE_PROJECT_ROOT": str(PROJECT_ROOT), **connect}

    def jars(self) -> str | None:
        """The Kafka source's jars, for a Spark of the launch's own; the server has its own."""
        return None if self.spark_connect_url else SPARK_KAFKA_JARS

    def spark_submit_options(self) -> dict:
        """Keyword arguments of the Spark provider's SparkSubmitOperator and SparkSubmitHook."""
        return {"name": self.query_name, "jars": self.jars(), "conf": DRAIN_SPARK_CONF,
                "application_args": self.application_args(), "env_vars": self.env_vars()}

    def command(self, spark_submit: str, master: str, application: str = DRAIN_APP) -> list[str]:
        """spark-submit's argv for a launch without the provider (the tests, the drills)."""
        jars = self.jars()
        return [spark_submit, "--master", master, "--name", self.query_name,
                *(option for name, value in DRAIN_SPARK_CONF.items() for option in ("--conf", f"{name}={value}")),
                *(["--jars", jars] if jars else []), application, *self.application_args()]
