"""Kafka → the warehouse: the drain's launch description and its exactly-once sink. Pure: no Airflow."""
