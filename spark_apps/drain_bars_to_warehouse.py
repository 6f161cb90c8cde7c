"""Drain what is new on the bars topics into the Postgres warehouse, exactly once, then exit.

Reads the bars topic and the dead-letter topic with Trigger.AvailableNow and a
persistent checkpoint, parses every message against an explicit schema,
validates it, and hands each micro-batch to `market_pipeline.sink`, which
upserts good bars and quarantines the rest with their reason in one
transaction per batch.

Usage: drain_bars_to_warehouse.py --bootstrap-servers HOST:PORT --bars-topic TOPIC
           --dead-letter-topic TOPIC --checkpoint DIR [--query-name NAME] [--max-offsets-per-trigger N]

The warehouse's URI comes from the WAREHOUSE_URI environment variable, never
from the command line, so its password shows in no process list or log.

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

from market_pipeline.alphavantage import INTRADAY_INTERVALS
from market_pipeline.bars import SYMBOL_PATTERN
from market_pipeline.settings import DRAIN_QUERY_NAME
from market_pipeline.sink import ExactlyOnceSink

PRICE_TYPE = "decimal(18,6)"
# Every field read as a string, then cast with try_cast: a malformed value
# becomes a quarantine reason instead of failing the whole batch.
BAR_MESSAGE_SCHEMA = StructType(
    [
        StructField(name, StringType())
        for name in ("symbol", "interval", "bar_time", "open", "high", "low", "close", "volume", "fetched_at")
    ]
)
UTC_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ssX"


def parse_bar_messages(messages: DataFrame, dead_letter_topic: str) -> DataFrame:
    """Kafka records -> one row per record: the typed bar, its source, and `reason` (null when valid)."""
    raw_value = F.col("value").cast("string")
    parsed = messages.select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.col("key").cast("string").alias("message_key"),
        raw_value.alias("raw_value"),
        F.from_json(raw_value, BAR_MESSAGE_SCHEMA).alias("m"),
    )
    typed = parsed.select(
        "*",
        F.col("m.symbol").alias("symbol"),
        F.col("m.interval").alias("interval"),
        F.try_to_timestamp(F.col("m.bar_time"), F.lit(UTC_TIMESTAMP_FORMAT)).alias("bar_time"),
        *(F.col(f"m.{name}").try_cast(PRICE_TYPE).alias(name) for name in ("open", "high", "low", "close")),
        F.col("m.volume").try_cast("bigint").alias("volume"),
        F.try_to_timestamp(F.col("m.fetched_at"), F.lit(UTC_TIMESTAMP_FORMAT)).alias("fetched_at"),
    )
    return typed.select(
        "symbol", "interval", "bar_time", "open", "high", "low", "close", "volume", "fetched_at",
        "source_topic", "source_partition", "source_offset", "message_key", "raw_value",
        _rejection_reason(dead_letter_topic).alias("reason"),
    )


def _rejection_reason(dead_letter_topic: str) -> Column:
    """The first check a row fails, in words; null for a valid bar."""
    checks = [
        (F.col("source_topic") == dead_letter_topic,
         F.concat(F.lit("rejected at fetch: "),
                  F.coalesce(F.get_json_object("raw_value", "$.reason"), F.lit("no reason given")))),
        (F.col("raw_value").isNull(), F.lit("empty message")),
        (F.col("m").isNull() | F.col("m.symbol").isNull(), F.lit("not a bar: unparseable JSON or no symbol")),
        (~F.col("symbol").rlike(SYMBOL_PATTERN), F.lit("symbol is not an upper-case ticker")),
        (F.col("interval").isNull(), F.lit("missing interval")),
        (~F.col("interval").isin(*INTRADAY_INTERVALS), F.lit("unknown interval")),
        (F.col("bar_time").isNull(), F.lit("bar_time missing or not an ISO-8601 UTC timestamp")),
        (F.col("fetched_at").isNull(), F.lit("fetched_at missing or not an ISO-8601 UTC timestamp")),
        (F.col("open").isNull() | F.col("high").isNull() | F.col("low").isNull() | F.col("close").isNull(),
         F.lit("a price is missing, not a number, or out of range")),
        (F.col("volume").isNull(), F.lit("volume missing or not an integer")),
        (F.col("volume") < 0, F.lit("negative volume")),
        (F.col("low") <= 0, F.lit("low is not positive")),
        (F.col("high") < F.greatest("open", "close"), F.lit("high is below open or close")),
        (F.col("low") > F.least("open", "close"), F.lit("low is above open or close")),
    ]
    reason = F.lit(None).cast("string")
    for failed, text in reversed(checks):
        reason = F.when(failed, text).otherwise(reason)
    return reason


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--bars-topic", required=True)
    parser.add_argument("--dead-letter-topic", required=True)
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder of this query")
    parser.add_argument("--query-name", default=DRAIN_QUERY_NAME)
    parser.add_argument("--max-offsets-per-trigger", type=int, default=200_000,
                        help="upper bound of messages per micro-batch (driver memory)")
    return parser.parse_args()


def main(sink_factory: Callable[[str, str], ExactlyOnceSink] = ExactlyOnceSink) -> None:
    """`sink_factory` lets the crash tests wrap the sink; the job itself always uses ExactlyOnceSink."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    args = parse_args()
    warehouse_uri = os.environ.get("WAREHOUSE_URI")
    if not warehouse_uri:
        raise SystemExit("WAREHOUSE_URI is not set: the warehouse's postgres:// URI is required")

    spark = (
        SparkSession.builder.appName(args.query_name)
        .config("spark.sql.session.timeZone", "UTC")
        # Small batches on a small machine: a few partitions, no UI.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )

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
