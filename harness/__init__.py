"""What the tests, the benchmark and the drills share to drive the real stack: sandboxed pipelines
inside the running Airflow (`pipeline`), the drain launched as the DAG launches it, test bars,
alert receivers, private Kafka and PostgreSQL servers, and topics of their own.

Nothing here runs in the product; nothing outside `tests/` imports `tests/`.
"""
