"""The scale-out path needs only connections: the drain's spark-submit takes its master from
`spark_default` and ships the job's package to the executors."""

import json
import zipfile

from airflow.dag_processing.dagbag import DagBag

from market_pipeline.in_airflow.drain import package_job
from tests.dags.test_dag_integrity import DAGS_DIR


def spark_submit_command(monkeypatch, spark_default: dict) -> list[str]:
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(spark_default))
    drain = DagBag(dag_folder=str(DAGS_DIR / "market_bars_pipeline.py")).dags["market_bars_pipeline"].get_task(
        "drain_to_warehouse")
    drain.py_files = "/tmp/market_pipeline.zip"
    return drain._get_hook()._build_spark_submit_command(drain.application)


def test_the_drain_takes_its_master_from_spark_default(monkeypatch):
    local = spark_submit_command(monkeypatch, {"conn_type": "spark", "host": "local[*]"})
    assert local[local.index("--master") + 1] == "local[*]"
    cluster = spark_submit_command(monkeypatch, {"conn_type": "spark", "host": "spark://spark-master", "port": 7077})
    assert cluster[cluster.index("--master") + 1] == "spark://spark-master:7077"
    assert cluster[cluster.index("--py-files") + 1] == "/tmp/market_pipeline.zip"


def test_the_job_package_holds_every_module_the_drain_imports(tmp_path):
    package_job(tmp_path / "job.zip")
    names = set(zipfile.ZipFile(tmp_path / "job.zip").namelist())
    assert {"market_pipeline/__init__.py", "market_pipeline/load/sink.py", "market_pipeline/bars.py",
            "market_pipeline/settings.py"} <= names
    assert all(name.endswith(".py") for name in names)
