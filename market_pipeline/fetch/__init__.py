"""Alpha Vantage to validated bars to Kafka: the API client, the quota planner and its ledger,
the live and the history fetch. Pure: no Airflow."""
