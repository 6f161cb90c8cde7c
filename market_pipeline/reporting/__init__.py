"""What analysts read: freshness verdicts and the chart export. Pure: no Airflow."""
