"""docs/market_data.pbids, the Power BI data source file: the PostgreSQL connector, the stack's
warehouse server and database, Import mode, and never a credential."""

import json
import re
from urllib.parse import urlsplit

from market_pipeline.settings import PROJECT_ROOT

PBIDS = PROJECT_ROOT / "docs" / "market_data.pbids"


def stack_default(name: str) -> str:
    """A default from config/stack.env (`NAME=${NAME:-default}`), with the variables it uses expanded."""
    text = (PROJECT_ROOT / "config" / "stack.env").read_text()
    value = re.search(rf"^{name}=\$\{{{name}:-(.*)\}}$", text, re.MULTILINE).group(1)
    return re.sub(r"\$\{(\w+)\}", lambda match: stack_default(match.group(1)), value)


def test_pbids_points_the_postgresql_connector_at_the_warehouse_in_import_mode():
    source = json.loads(PBIDS.read_text())
    assert source["version"] == "0.1"
    (connection,) = source["connections"]  # Power BI takes exactly one
    assert connection["mode"] == "Import"
    assert connection["details"]["protocol"] == "postgresql"
    reader = urlsplit(stack_default("AIRFLOW_CONN_WAREHOUSE_READER"))
    assert reader.username == "market_reader"
    assert connection["details"]["address"] == {"server": f"{reader.hostname}:{reader.port}",
                                                "database": reader.path.lstrip("/")}
    stack_server = f"{stack_default('STACK_HOST')}:{stack_default('POSTGRES_PORT')}"
    assert connection["details"]["address"]["server"] == stack_server


def test_pbids_carries_no_credentials():
    text = PBIDS.read_text().lower()
    assert not {"password", "user", "market_reader", stack_default("POSTGRES_READER_PASSWORD")} & set(
        re.findall(r"[\w-]+", text))
