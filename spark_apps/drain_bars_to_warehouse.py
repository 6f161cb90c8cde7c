"""Drain what is new on the bars topics into the Postgres warehouse, exactly once, then exit.

Reads the bars topic and the dead-letter topic with Trigger.AvailableNow and a
persistent checkpoint, parses every message against an explicit schema,
validates it, and hands each micro-batch to `market_pipeline.load.sink`, which
upserts good bars and quarantines the rest with their reason in one
transaction per batch.

Usage: drain_bars_to_warehouse.py --bootstrap-servers HOST:PORT --bars-topic TOPIC
           --dead-letter-topic TOPIC --checkpoint DIR [--query-name NAME] [--max-offsets-per-trigger N]

The warehouse's URI comes from the WAREHOUSE_URI environment variable, never
from the command line, so its password shows in no process list or log. With
SPARK_CONNECT_URL set (sc://host:port), the query runs on that long-lived Spark
Connect server and this process builds no Spark of its own; without it, on
spark-submit's --master.

Run it by hand with:
    WAREHOUSE_URI=postgres://market:...@127.0.0.1:5433/market_data \
    spark-submit --master 'local[*]' --jars '.cache/jars/spark-kafka/*.jar' \
        spark_apps/drain_bars_to_warehouse.py --bootstrap-servers 127.0.0.1:9092 \
        --bars-topic market.bars.intraday --dead-letter-topic market.bars.dead-letter \
        --checkpoint .state/checkpoints/bars_to_warehouse
"""

import argparse
import logging
import os
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from market_pipeline.bars import RULES, spark_fields
from market_pipeline.load.sink import ExactlyOnceSink
from market_pipeline.load.spark_connect import SPARK_CONNECT_URL_ENV
from market_pipeline.settings import DRAIN_QUERY_NAME

# The message's fields, from the bar's contract (`market_pipeline.bars`), every one read as a
# string and then cast with try_cast: a malformed value becomes a quarantine reason instead of
# failing the whole batch.
BAR_FIELDS = spark_fields()
BAR_MESSAGE_SCHEMA = StructType([StructField(name, StringType()) for name, _, _ in BAR_FIELDS])
UTC_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ssX"


def parse_bar_messages(messages: DataFrame, dead_letter_topic: str) -> DataFrame:
    """Kafka records -> one row per record: the typed bar, its source, and `reason` (null when
    valid). The raw message and its key travel on only with a reason: a good bar does not need them."""
    raw_value = F.col("value").cast("string")
    parsed = messages.select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.col("key").cast("string").alias("message_key"),
        raw_value.alias("raw_value"),
        F.from_json(raw_value, BAR_MESSAGE_SCHEMA).alias("m"),
    )
    typed = parsed.select("*", *(_typed(name, spark_type).alias(name) for name, spark_type, _ in BAR_FIELDS))
    with_reason = typed.select("*", _rejection_reason(dead_letter_topic).alias("reason"))
    kept_if_rejected = [F.when(F.col("reason").isNotNull(), F.col(name)).alias(name)
                        for name in ("message_key", "raw_value")]
    return with_reason.select(*(name for name, _, _ in BAR_FIELDS),
                              "source_topic", "source_partition", "source_offset", *kept_if_rejected, "reason")


def _typed(name: str, spark_type: str) -> Column:
    text = F.col(f"m.{name}")
    if spark_type == "timestamp":
        return F.try_to_timestamp(text, F.lit(UTC_TIMESTAMP_FORMAT))
    return text.try_cast(spark_type)


def _rejection_reason(dead_letter_topic: str) -> Column:
    """The first check a row fails, in words; null for a valid bar."""
    checks = [
        (F.col("source_topic") == dead_letter_topic,
         F.concat(F.lit("rejected at fetch: "),
                  F.coalesce(F.get_json_object("raw_value", "$.reason"), F.lit("no reason given")))),
        (F.col("raw_value").isNull(), F.lit("empty message")),
        (F.col("m").isNull() | F.col("m.symbol").isNull(), F.lit("not a bar: unparseable JSON or no symbol")),
        *((F.col(name).isNull(), F.lit(f"{name} {missing}")) for name, _, missing in BAR_FIELDS),
        *((~F.expr(rule.sql), F.lit(rule.reason)) for rule in RULES),
    ]
    reason = F.lit(None).cast("string")
    for failed, text in reversed(checks):
        reason = F.when(failed, text).otherwise(reason)
    return reason


def spark_session(app_name: str, connect_url: str | None) -> SparkSession:
    """A session of the long-lived Spark Connect server at `connect_url`, or, without one, a
    Spark of this process's own (spark-submit's `--master`)."""
    builder = SparkSession.builder.appName(app_name)
    if connect_url:
        # spark-submit hands its --master to this process as MASTER, and pyspark refuses a master
        # beside a remote; the master is spark-submit's own here, this process builds no Spark.
        os.environ.pop("MASTER", None)
        builder = builder.remote(connect_url)
    else:
        # The server sets its own static settings; a Spark of our own: no UI.
        builder = builder.config("spark.ui.enabled", "false")
    # Small batches on a small machine: a few partitions.
    return (builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2").getOrCreate())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--bars-topic", required=True)
    parser.add_argument("--dead-letter-topic", required=True)
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder of this query")
    parser.add_argument("--query-name", default=DRAIN_QUERY_NAME)
    parser.add_argument("--max-offsets-per-trigger", type=int, required=True,
                        help="upper bound of messages per micro-batch (driver memory)")
    return parser.parse_args()


def main(sink_factory: Callable[[str, str], ExactlyOnceSink] = ExactlyOnceSink) -> None:
    """`sink_factory` lets the crash tests wrap the sink; the job itself always uses ExactlyOnceSink."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    args = parse_args()
    warehouse_uri = os.environ.get("WAREHOUSE_URI")
    if not warehouse_uri:
        raise SystemExit("WAREHOUSE_URI is not set: the warehouse's postgres:// URI is required")

    spark = spark_session(args.query_name, os.environ.get(SPARK_CONNECT_URL_ENV))

    messages = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap_servers)
        .option("subscribe", f"{args.bars_topic},{args.dead_letter_topic}")
        .option("startingOffsets", "earliest")
        # Offsets that vanished (retention, a recreated topic) are lost bars:
        # fail and say so rather than skip them.
        .option("failOnDataLoss", "true")
        .option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
        .load()
    )

    bars = parse_bar_messages(messages, args.dead_letter_topic)

    query = (
        bars.writeStream.queryName(args.query_name)
        .foreachBatch(sink_factory(warehouse_uri, args.query_name))
        .option("checkpointLocation", args.checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    main()
