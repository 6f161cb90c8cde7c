"""A Spark standalone cluster as local processes: a master and one worker, from the Spark that
pyspark ships (`spark-class`), for the drain's `per_run` Spark to scale out to instead of
`local[*]`. Made, started and awaited here for `bin/stack start --spark-cluster`
(`python -m local_stack spark-cluster-*`) and for the tests' private cluster
(`harness.services.private_spark_cluster`).

Everything lives in one folder: `conf/` (the cluster's SPARK_CONF_DIR and properties file) and
`work/` (the worker's: one folder per application and executor, holding what the executor fetched,
the `--jars` and `--py-files`, and its stdout and stderr). The executors log at INFO what they ran
and how many records each Kafka read read, so their stderr shows the drain ran on the worker.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tenacity import Retrying, retry_if_not_result, stop_after_delay, wait_fixed

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# One executor of the drain's size: Spark's default executor takes 1 GB and every core it is offered.
WORKER_CORES = 1
WORKER_MEMORY = "1g"
PROPERTIES = {
    # The master's REST submission port (6066) would accept jobs from anyone who reaches it.
    "spark.master.rest.enabled": "false",
    # Each application leaves its jars (about 10 MB) in the worker's folder: a drain every 90 s
    # fills a disk in days. Folders of finished applications go after an hour.
    "spark.worker.cleanup.enabled": "true",
    "spark.worker.cleanup.interval": "600",
    "spark.worker.cleanup.appDataTtl": "3600",
}
# Added to the project's log4j2 settings (WARN): what each task of an executor ran and read.
EXECUTOR_LOGGERS = {"executor": "org.apache.spark.executor.Executor", "kafka_source": "org.apache.spark.sql.kafka010"}


def stack_folder(state_dir: Path) -> Path:
    """bin/stack's cluster folder in its state folder."""
    return state_dir / "spark-cluster"


def master_url(host: str, port: int) -> str:
    return f"spark://{host}:{port}"


def configure(folder: Path) -> Path:
    """Write `folder/conf` (log4j2 settings and the properties file), rewritten each time; return it."""
    conf = folder / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    loggers = "".join(f"logger.{key}.name = {name}\nlogger.{key}.level = info\n"
                      for key, name in EXECUTOR_LOGGERS.items())
    (conf / "log4j2.properties").write_text((PROJECT_ROOT / "ops" / "spark" / "log4j2.properties").read_text()
                                            + loggers)
    properties_file(conf).write_text("".join(f"{name} {value}\n" for name, value in PROPERTIES.items()))
    return conf


def properties_file(conf: Path) -> Path:
    return conf / "spark-cluster.conf"


def environment(conf: Path) -> dict[str, str]:
    """The caller's environment with `conf` as SPARK_CONF_DIR: the executors the worker starts take
    their log4j2 settings from it too."""
    return {**os.environ, "SPARK_CONF_DIR": str(conf)}


def master_command(conf: Path, host: str, port: int, webui_port: int) -> list[str]:
    return [_spark_class(), MASTER_CLASS, "--host", host, "--port", str(port), "--webui-port", str(webui_port),
            "--properties-file", str(properties_file(conf))]


def worker_command(conf: Path, host: str, master_port: int, webui_port: int, work_dir: Path) -> list[str]:
    return [_spark_class(), WORKER_CLASS, master_url(host, master_port), "--host", host,
            "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY, "--webui-port", str(webui_port),
            "--work-dir", str(work_dir), "--properties-file", str(properties_file(conf))]


def master_state(host: str, webui_port: int) -> dict:
    """The master's JSON (http://HOST:WEBUI_PORT/json/): workers, `aliveworkers`, `activeapps`,
    `completedapps`."""
    with urllib.request.urlopen(f"http://{host}:{webui_port}/json/", timeout=5) as reply:
        return json.load(reply)


def wait_for_workers(host: str, webui_port: int, seconds: float, workers: int = 1,
                     alive: Callable[[], bool] = lambda: True) -> None:
    """Until the master lists `workers` alive workers (registration took 10-30 s here):
    RuntimeError as soon as `alive()` says the master or a worker exited, TimeoutError after `seconds`."""

    def registered() -> bool:
        if not alive():
            raise RuntimeError("the Spark master or worker exited")
        try:
            return master_state(host, webui_port)["aliveworkers"] >= workers
        except OSError:  # the master's web UI is not up yet
            return False

    def give_up(_state) -> None:
        raise TimeoutError(f"the Spark master at {host}:{webui_port} lists fewer than {workers} alive workers "
                           f"after {seconds:g} s")

    Retrying(retry=retry_if_not_result(bool), wait=wait_fixed(1), stop=stop_after_delay(seconds),
             retry_error_callback=give_up)(registered)


def _spark_class() -> str:
    return str(Path(sys.executable).parent / "spark-class")
