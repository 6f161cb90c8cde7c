"""The installed pieces fit together: the trap here is pyspark-client overwriting pyspark's files."""

import re
from importlib.metadata import version
from pathlib import Path

import pyspark

from market_pipeline.settings import JARS_DIR


def _jar_version(folder: Path, artifact: str) -> str:
    [jar] = folder.glob(f"{artifact}-*.jar")
    return re.fullmatch(rf"{artifact}-(.+)\.jar", jar.name).group(1)


def test_pyspark_python_files_match_the_spark_jars_that_run():
    jars = Path(pyspark.__file__).parent / "jars"
    assert pyspark.__version__ == _jar_version(jars, "spark-core_2.13")
    assert version("pyspark") == version("pyspark-client") == pyspark.__version__


def test_kafka_connector_matches_spark():
    assert _jar_version(JARS_DIR / "spark-kafka", "spark-sql-kafka-0-10_2.13") == pyspark.__version__
