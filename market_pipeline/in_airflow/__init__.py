"""Everything that imports Airflow: task bodies, operators, the drain task, alerts, the DAGs'
params, the connection and Variable look-ups, the REST client of the API server, and the market
page served inside it."""
