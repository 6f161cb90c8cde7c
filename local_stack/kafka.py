"""The stack's single-node KRaft broker: its configuration, storage and command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = PROJECT_ROOT / "ops" / "kafka" / "server.properties.template"
LOG4J = PROJECT_ROOT / "ops" / "kafka" / "log4j2.properties"


def classpath() -> str:
    """The broker's jars, resolved by bin/stack setup from ops/maven/kafka-broker/pom.xml."""
    return f"{Path(os.environ['STOCKPIPE_JARS_DIR']) / 'kafka-broker'}/*"


def properties_file(folder: Path) -> Path:
    return folder / "server.properties"


def configure(folder: Path, host: str, port: int, controller_port: int) -> bool:
    """`folder/server.properties` from the template (rewritten each time, so a changed port is
    picked up), and the storage in `folder/data` formatted once; True if it formatted it."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    values = {"@HOST@": host, "@PORT@": str(port), "@CONTROLLER_PORT@": str(controller_port), "@DATA_DIR@": str(data)}
    text = TEMPLATE.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    properties_file(folder).write_text(text)
    if (data / "meta.properties").exists():
        return False
    cluster_id = _storage_tool("random-uuid").strip()
    _storage_tool("format", "-t", cluster_id, "-c", str(properties_file(folder)))
    return True


def broker_command(properties: Path) -> list[str]:
    return ["java", "-Xms256m", "-Xmx512m", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath(),
            "kafka.Kafka", str(properties)]


def _storage_tool(*args: str) -> str:
    return subprocess.run(["java", "-cp", classpath(), "kafka.tools.StorageTool", *args],
                          check=True, capture_output=True, text=True).stdout
