"""Names and locations every part of the pipeline agrees on.

Connection ids, the pool, topic names, Variable names and state folders live
here so the DAG, the Spark job's arguments and the tests cannot drift apart.
What a user tunes at run time (watchlist, limits) is not here but in the
`market_data_config` Variable, validated by `market_pipeline.pipeline_config`.
"""

import os
from pathlib import Path

# The checkout. Set explicitly for the drain's driver, which imports this package from the zip
# shipped with --py-files, where no SQL file sits beside it.
PROJECT_ROOT = Path(os.environ.get("STOCKPIPE_PROJECT_ROOT", Path(__file__).resolve().parent.parent))
SQL_DIR = PROJECT_ROOT / "include" / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"
SPARK_APPS_DIR = PROJECT_ROOT / "spark_apps"
# Connections, Variables and pools the stack provisions; their defaults run the demo.
CONFIG_DIR = PROJECT_ROOT / "config"
VARIABLES_FILE = CONFIG_DIR / "airflow_variables.json"

# bin/stack exports these; the defaults match its own. STACK is `live` or `test` (the tests',
# drills' and benchmark's own stack, beside the live one: see bin/stack).
STACK = os.environ.get("STOCKPIPE_STACK", "live")
STATE_DIR = Path(os.environ.get("STOCKPIPE_STATE_DIR", PROJECT_ROOT / ".state"))
JARS_DIR = Path(os.environ.get("STOCKPIPE_JARS_DIR", PROJECT_ROOT / ".cache" / "jars"))
CHECKPOINTS_DIR = STATE_DIR / "checkpoints"
# The drain's Python package, zipped at each launch for the executors (`--py-files`).
JOB_PACKAGE_ZIP = STATE_DIR / "spark" / "market_pipeline.zip"
# Spark's Kafka source and its dependencies (resolved by `bin/stack setup`).
SPARK_KAFKA_JARS = str(JARS_DIR / "spark-kafka" / "*.jar")
# Only the write-path benchmark uses JDBC.
POSTGRES_JDBC_JARS = str(JARS_DIR / "postgres-jdbc" / "*.jar")

ALPHAVANTAGE_CONN_ID = "alphavantage_default"
KAFKA_CONN_ID = "kafka_default"
WAREHOUSE_CONN_ID = "warehouse"
# The reporting schema's read-only login (market_reader): the market page and the chart export.
READER_CONN_ID = "warehouse_reader"
SPARK_CONN_ID = "spark_default"
# The long-lived Spark Connect server the drain's session runs on (drain_session `connect`).
SPARK_CONNECT_CONN_ID = "spark_connect_default"
# Alert channels: e-mail, and chat through Apprise (either may be missing: no alert there).
SMTP_CONN_ID = "smtp_default"
CHAT_CONN_ID = "apprise_default"

# One slot: API calls are serialised, so quota ledger updates never race.
ALPHAVANTAGE_POOL = "alphavantage_api"
# One slot: one Spark drain at a time, whatever DAG, run or backfill launched it.
DRAIN_POOL = "warehouse_drain"

BARS_TOPIC = "market.bars.intraday"
DEAD_LETTER_TOPIC = "market.bars.dead-letter"
# The bars topic's partitions: config/stack.env's KAFKA_BARS_PARTITIONS, where the rule is.
BARS_PARTITIONS = int(os.environ.get("KAFKA_BARS_PARTITIONS", "3"))

CONFIG_VARIABLE = "market_data_config"
QUOTA_LEDGER_VARIABLE = "alphavantage_quota_ledger"

DRAIN_QUERY_NAME = "bars_to_warehouse"


def refuse_the_live_stack(command: str) -> None:
    """For tools that run the live DAGs or kill services: they belong on the test stack."""
    if STACK != "test":
        raise SystemExit(f"this runs on the test stack, not the live one ({STACK}): use `{command}`")

# The live fetch's summary (calls, bars, why nothing was due): its return value is the
# short-circuit's verdict, so the summary is an XCom of its own, read by the demo.
FETCH_SUMMARY_XCOM_KEY = "summary"
