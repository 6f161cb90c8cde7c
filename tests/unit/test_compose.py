"""docker-compose.yaml, checked without a Docker engine (these machines have none, so the stack is never
started here): its structure, and that it runs what bin/stack runs: the project's versions, config/stack.env's
ports, the same bootstrap SQL and roles, and no secret written into the file."""

import functools
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from local_stack import postgres
from market_pipeline.settings import JARS_DIR, PROJECT_ROOT, SPARK_KAFKA_JARS

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
DOCKERFILE = PROJECT_ROOT / "ops" / "docker" / "airflow.Dockerfile"

AIRFLOW_SERVICES = {
    "airflow-init", "airflow-api-server", "airflow-provision",
    "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
}
ONE_SHOT = {"airflow-init", "airflow-provision"}
STACK = {"postgres", "kafka", "simulator", "spark-connect", "spark-master", "spark-worker", "kafka-ui", "pgadmin",
         *AIRFLOW_SERVICES}
# What each long-running service's health check must exercise.
HEALTH_PROBES = {
    "postgres": "pg_isready",
    "kafka": "kafka-broker-api-versions.sh",
    "simulator": "urllib.request",
    "spark-connect": "socket.create_connection(('127.0.0.1', 15002)",
    "airflow-api-server": "/api/v2/monitor/health",
    "airflow-scheduler": "--job-type SchedulerJob",
    "airflow-dag-processor": "--job-type DagProcessorJob",
    "airflow-triggerer": "--job-type TriggererJob",
}
# Every compose variable with a default: ${NAME:-default}; a required one: ${NAME:?message}.
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}")
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}")


@functools.cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def compose_variables() -> list[tuple[str, str, str]]:
    """(name, "-" or "?" or "", default or message) of every ${...} in the file's values (not its comments)."""
    def strings(node) -> list[str]:
        if isinstance(node, dict):
            return [text for value in node.values() for text in strings(value)]
        if isinstance(node, list):
            return [text for value in node for text in strings(value)]
        return [node] if isinstance(node, str) else []

    return [variable for text in strings(compose()) for variable in VARIABLE.findall(text)]


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def command(service: str) -> list[str]:
    value = services()[service].get("command") or []
    return value.split() if isinstance(value, str) else [str(item) for item in value]


def flag(service: str, name: str) -> str:
    arguments = command(service)
    return arguments[arguments.index(name) + 1]


def healthcheck_text(service: str) -> str:
    test = services()[service].get("healthcheck", {}).get("test", [])
    return test if isinstance(test, str) else " ".join(test)


def default_of(value: str) -> str:
    """A compose value with its ${NAME:-default} replaced by the defaults (required ones by their name)."""
    return VARIABLE.sub(lambda match: match.group(3) if match.group(2) == "-" else match.group(1), value)


@functools.cache
def stack_env() -> dict[str, str]:
    """config/stack.env's defaults (NAME=${NAME:-default}), shell quotes removed, ${...} left as written."""
    defaults = {}
    for line in (PROJECT_ROOT / "config" / "stack.env").read_text().splitlines():
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=\$\{\1:-(.*)\}", line)
        if match:
            defaults[match.group(1)] = match.group(2).removeprefix("'").removesuffix("'")
    return defaults


def requirement_pin(name: str) -> str:
    text = (PROJECT_ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(name)}==(\S+)$", text, re.MULTILINE).group(1)


def bin_stack() -> str:
    return (PROJECT_ROOT / "bin" / "stack").read_text()


def dockerfile() -> str:
    return DOCKERFILE.read_text()


def dockerfile_images() -> list[str]:
    return re.findall(r"^FROM\s+(\S+)", dockerfile(), re.MULTILINE | re.IGNORECASE)


def dockerfile_env(name: str) -> str:
    return re.search(rf"\b{name}=(\S+)", dockerfile()).group(1)


def image_tag(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    return repository, tag


def roles_created() -> list[str]:
    sql = (PROJECT_ROOT / "include" / "sql" / "bootstrap" / "databases_and_roles.sql").read_text()
    array = re.search(r"ARRAY\[(.*?)\]", sql).group(1)
    return re.findall(r"'(\w+)'", array)


def test_the_whole_stack_is_defined():
    assert STACK <= set(services()), f"missing services: {sorted(STACK - set(services()))}"


def test_airflow_services_and_the_simulator_run_one_image_built_from_ops_docker():
    built = {name: services()[name] for name in AIRFLOW_SERVICES | {"simulator"}}
    for name, service in built.items():
        assert service.get("build") == {"context": ".", "dockerfile": "ops/docker/airflow.Dockerfile"}, name
    assert len({service["image"] for service in built.values()}) == 1
    assert DOCKERFILE.is_file()


def test_every_image_is_pinned_to_a_version():
    def pinned(image: str) -> bool:
        _, tag = image_tag(image)
        return tag != "latest" and re.match(r"v?\d+\.\d+", tag) is not None  # no `latest`, no bare major

    for name, service in services().items():
        if "build" in service:
            dockerfile_path = PROJECT_ROOT / service["build"]["dockerfile"]
            assert dockerfile_path.parent == DOCKERFILE.parent and dockerfile_path.is_file(), name
        else:
            assert pinned(service["image"]), f"{name}: {service['image']}"
    assert dockerfile_images() and all(pinned(image) for image in dockerfile_images()), dockerfile_images()


def test_the_airflow_image_is_the_projects_airflow_and_python():
    repository, tag = image_tag(dockerfile_images()[-1])
    assert repository == "apache/airflow"
    python = re.search(r'requires-python = ">=(\d+\.\d+)', (PROJECT_ROOT / "pyproject.toml").read_text()).group(1)
    assert tag == f"{requirement_pin('apache-airflow')}-python{python}"


def test_spark_images_are_pysparks_version_scala_and_java():
    images = {services()[name]["image"] for name in ("spark-master", "spark-worker")}
    assert len(images) == 1
    repository, tag = image_tag(images.pop())
    assert repository == "apache/spark"
    version, _, variant = tag.partition("-")
    assert version == requirement_pin("pyspark")
    # The Scala of the connector jars (spark-sql-kafka-0-10_2.13) and the Java the Dockerfile installs.
    scala = re.search(r"spark-sql-kafka-0-10_(\d+\.\d+)", (PROJECT_ROOT / "ops/maven/spark-kafka/pom.xml").read_text())
    java = re.search(r"openjdk-(\d+)-jre-headless", dockerfile()).group(1)
    assert variant == "" or {f"scala{scala.group(1)}", f"java{java}"} <= set(variant.split("-")), tag


def test_the_kafka_image_is_the_broker_of_the_maven_pom():
    pom = ET.parse(PROJECT_ROOT / "ops" / "maven" / "kafka-broker" / "pom.xml")
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    [broker] = [dependency for dependency in pom.iterfind(".//m:dependency", ns)
                if dependency.findtext("m:artifactId", namespaces=ns) == "kafka_2.13"]
    assert services()["kafka"]["image"] == f"apache/kafka:{broker.findtext('m:version', namespaces=ns)}"


def test_postgres_major_is_the_stacks_postgres_version():
    repository, tag = image_tag(services()["postgres"]["image"])
    assert repository == "postgres"
    assert tag.split(".")[0] == stack_env()["POSTGRES_VERSION"]


def test_ports_are_published_on_loopback_only_with_stack_env_variables_and_defaults():
    published = {}
    for name, service in services().items():
        for port in service.get("ports", []):
            match = re.fullmatch(r"127\.0\.0\.1:\$\{([A-Z_][A-Z0-9_]*):-(\d+)\}:(\d+)", str(port))
            assert match, f"{name}: {port!r} is not 127.0.0.1:${{VARIABLE:-default}}:container"
            variable, default, container = match.groups()
            if variable in stack_env():
                assert default == stack_env()[variable], f"{name}: {variable} defaults differ from config/stack.env"
            published[variable] = (name, int(container), int(default))
    external_kafka_port = int(re.search(r"EXTERNAL://:(\d+)", environment("kafka")["KAFKA_LISTENERS"]).group(1))
    assert {variable: published.get(variable, (None, None, None))[:2] for variable in
            ("POSTGRES_PORT", "KAFKA_PORT", "AIRFLOW_PORT", "SIMULATOR_PORT")} == {
        "POSTGRES_PORT": ("postgres", 5432),
        "KAFKA_PORT": ("kafka", external_kafka_port),
        "AIRFLOW_PORT": ("airflow-api-server", int(flag("airflow-api-server", "--port"))),
        "SIMULATOR_PORT": ("simulator", int(flag("simulator", "--port"))),
    }
    host_ports = [port for _, _, port in published.values()]
    assert len(host_ports) == len(set(host_ports)), f"two services default to one host port: {published}"


def test_every_default_of_a_stack_env_variable_is_stack_envs():
    shared = [(name, default) for name, kind, default in compose_variables() if kind == "-" and name in stack_env()]
    assert {name for name, _ in shared} >= {"POSTGRES_PORT", "KAFKA_PORT", "AIRFLOW_PORT", "SIMULATOR_PORT",
                                             "SIMULATOR_ENTITLEMENT"}
    assert [(name, default) for name, default in shared if default != stack_env()[name]] == []


def test_kafka_listens_for_containers_and_for_the_host():
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert internal.split(":")[0] == "kafka" and internal.split(":")[1] == listeners[
        env["KAFKA_INTER_BROKER_LISTENER_NAME"]].lstrip(":")
    [external] = set(advertised.values()) - {internal}
    assert external == "127.0.0.1:${KAFKA_PORT:-" + stack_env()["KAFKA_PORT"] + "}"
    # Everything in the network bootstraps from the internal listener.
    kafka_default = json.loads(environment("airflow-scheduler")["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert kafka_default["extra"]["bootstrap.servers"] == internal
    assert environment("kafka-ui")["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == internal
    assert internal in healthcheck_text("kafka")


def test_kafka_settings_are_bin_stacks_broker_settings():
    """Every setting of ops/kafka/server.properties.template that does not name an address or a folder."""
    where = {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs",
             "listener.security.protocol.map", "inter.broker.listener.name", "controller.listener.names"}
    template = (PROJECT_ROOT / "ops" / "kafka" / "server.properties.template").read_text()
    settings = dict(line.split("=", 1) for line in template.splitlines() if line and not line.startswith("#"))
    env = environment("kafka")
    expected = {f"KAFKA_{key.upper().replace('.', '_')}": value for key, value in settings.items() if key not in where}
    assert expected["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert {key: env.get(key) for key in expected} == expected


def test_no_secret_is_written_into_the_compose_file():
    # The demo secrets of config/stack.env: its *_PASSWORD defaults and the passwords in its connections.
    secrets = {value for name, value in stack_env().items() if "PASSWORD" in name}
    for name, value in stack_env().items():
        if name.startswith("AIRFLOW_CONN_") and value.startswith("{"):
            secrets.add(json.loads(value).get("password"))
    secrets.discard(None)
    assert {"airflow-local", "market-local", "reader-local"} <= secrets
    text = COMPOSE_FILE.read_text()
    assert [secret for secret in secrets if secret in text] == []

    for name in services():
        for key, value in environment(name).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", key):
                assert REQUIRED_REFERENCE.fullmatch(value), f"{name}: {key} must be ${{VARIABLE:?...}}"
            uri = re.search(r"://[^/:@]+:([^@]+)@", value)
            if uri:
                assert REQUIRED_REFERENCE.fullmatch(uri.group(1)), f"{name}: {key} has a password in its URI"
            if value.startswith("{"):
                password = json.loads(value).get("password")
                assert password is None or REQUIRED_REFERENCE.fullmatch(password), f"{name}: {key} has a password"


def test_env_example_names_every_variable_the_compose_file_requires():
    example = (PROJECT_ROOT / ".env.example").read_text()
    assigned = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.+)$", example, re.MULTILINE))
    required = {name for name, kind, _ in compose_variables() if kind == "?"}
    assert {"POSTGRES_AIRFLOW_PASSWORD", "POSTGRES_WAREHOUSE_PASSWORD", "POSTGRES_READER_PASSWORD",
            "AIRFLOW_JWT_SECRET", "PGADMIN_DEFAULT_EMAIL", "PGADMIN_DEFAULT_PASSWORD"} <= required
    assert sorted(required - set(assigned)) == []
    # Placeholders, not the demo passwords of config/stack.env.
    assert [name for name in required if assigned[name] == stack_env().get(name)] == []
    # Its original advice on the real API key stays.
    assert re.search(r"^# AIRFLOW_CONN_ALPHAVANTAGE_DEFAULT='.*https://www\.alphavantage\.co/query.*YOUR_KEY", example,
                     re.MULTILINE)


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart():
    assert {name for name, service in services().items() if service.get("restart") == "no"} == ONE_SHOT
    for name, service in services().items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable") and check["test"] != ["NONE"], name
    for name, probe in HEALTH_PROBES.items():
        assert probe in healthcheck_text(name), name
    api_port = flag("airflow-api-server", "--port")
    assert f":{api_port}/api/v2/monitor/health" in healthcheck_text("airflow-api-server")


def test_every_dependency_waits_on_a_condition():
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for target, condition in depends_on.items():
            assert target in services(), f"{name} depends on unknown {target}"
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services()[target], f"{name} waits for {target}, which has no health check"
            else:
                assert condition.get("condition") == "service_completed_successfully", f"{name} -> {target}"
                assert target in ONE_SHOT, f"{name} waits for {target} to exit"

    def upstream(name: str) -> set[str]:
        direct = set(services()[name].get("depends_on", {}))
        return direct.union(*(upstream(target) for target in direct))

    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert {"airflow-init", "postgres"} <= upstream(name), name
    assert {"postgres", "kafka"} <= set(services()["airflow-init"]["depends_on"])
    assert {"kafka", "simulator", "airflow-provision"} <= upstream("airflow-scheduler")


def test_the_init_migrates_and_the_provisioning_goes_through_the_api_server():
    init = " ".join(command("airflow-init"))
    assert "airflow db migrate" in init
    assert "market_pipeline.cli migrate" in init and "market_pipeline.cli ensure-topics" in init
    assert command("airflow-provision")[-1] == "provision-airflow"
    assert services()["airflow-provision"]["depends_on"]["airflow-api-server"]["condition"] == "service_healthy"
    api = urlsplit(environment("airflow-provision")["AIRFLOW__API__BASE_URL"])
    assert (api.hostname, str(api.port)) == ("airflow-api-server", flag("airflow-api-server", "--port"))


def test_airflow_services_load_stack_env_and_override_the_container_addresses():
    for name in AIRFLOW_SERVICES:
        assert services()[name]["env_file"] == ["config/stack.env", "config/airflow.env"], name
    shared = environment("airflow-api-server")
    for name in AIRFLOW_SERVICES - {"airflow-provision"}:
        assert environment(name) == shared, f"{name} does not use the shared x-airflow-env"
    assert {key: value for key, value in environment("airflow-provision").items()
            if key != "AIRFLOW__API__BASE_URL"} == {key: value for key, value in shared.items()
                                                    if key != "AIRFLOW__API__BASE_URL"}
    # Every connection of config/stack.env points at 127.0.0.1 (and its quoted JSON is shell syntax): all replaced.
    assert {name for name in stack_env() if name.startswith("AIRFLOW_CONN_")} <= set(shared)

    warehouse, reader = (urlsplit(default_of(shared[key])) for key in
                         ("AIRFLOW_CONN_WAREHOUSE", "AIRFLOW_CONN_WAREHOUSE_READER"))
    metadata = urlsplit(default_of(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    for uri in (warehouse, reader, metadata):
        assert (uri.hostname, uri.port) == ("postgres", 5432)
    assert (warehouse.path, reader.path, metadata.path) == ("/market_data", "/market_data", "/airflow")
    alphavantage = urlsplit(json.loads(default_of(shared["AIRFLOW_CONN_ALPHAVANTAGE_DEFAULT"]))["host"])
    assert (alphavantage.hostname, str(alphavantage.port), alphavantage.path) == (
        "simulator", flag("simulator", "--port"), "/query")
    execution = urlsplit(shared["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (execution.hostname, str(execution.port), execution.path) == (
        "airflow-api-server", flag("airflow-api-server", "--port"), "/execution/")
    # The browser's links: the published Airflow port.
    assert shared["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:${AIRFLOW_PORT:-" + stack_env()["AIRFLOW_PORT"] + "}"


def test_postgres_roles_are_the_ones_the_connections_log_in_as():
    roles = roles_created()
    assert sorted(roles) == ["airflow", "market_etl", "market_reader"]
    assert urlsplit(stack_env()["AIRFLOW_CONN_WAREHOUSE"]).username == "market_etl"
    assert urlsplit(stack_env()["AIRFLOW_CONN_WAREHOUSE_READER"]).username == "market_reader"
    assert re.search(r"postgresql\+psycopg2://airflow:", bin_stack())
    shared = environment("airflow-scheduler")
    users = {key: urlsplit(default_of(shared[key])).username for key in
             ("AIRFLOW_CONN_WAREHOUSE", "AIRFLOW_CONN_WAREHOUSE_READER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")}
    assert users == {"AIRFLOW_CONN_WAREHOUSE": urlsplit(stack_env()["AIRFLOW_CONN_WAREHOUSE"]).username,
                     "AIRFLOW_CONN_WAREHOUSE_READER": urlsplit(stack_env()["AIRFLOW_CONN_WAREHOUSE_READER"]).username,
                     "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "airflow"}
    servers = json.loads(compose()["configs"]["pgadmin-servers"]["content"])["Servers"]
    assert {server["Username"] for server in servers.values()} <= set(roles)


def test_postgres_init_runs_bin_stacks_bootstrap_sql():  # local_stack.postgres.bootstrap's
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in services()["postgres"]["volumes"] if volume.startswith("./"))
    [script] = [source for source, target in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/")]
    script_path = PROJECT_ROOT / script
    assert script_path.parent == DOCKERFILE.parent and os.access(script_path, os.X_OK)
    text = script_path.read_text()
    bootstrap = re.search(r"^bootstrap=\$\{STOCKPIPE_BOOTSTRAP_SQL:-(.+)\}$", text, re.MULTILINE).group(1)
    assert mounts["./include/sql/bootstrap"] == bootstrap
    for sql in ("databases_and_roles.sql", "warehouse_databases.sql", "warehouse_database.sql"):
        assert f'"$bootstrap/{sql}"' in text and (PROJECT_ROOT / "include" / "sql" / "bootstrap" / sql).is_file()

    def psql_variables(shell: str) -> dict[str, str]:
        return dict(re.findall(r'-v (\w+)="\$(\w+)"', shell))

    assert psql_variables(text) == postgres.ROLE_PASSWORDS
    sql = (PROJECT_ROOT / "include" / "sql" / "bootstrap" / "databases_and_roles.sql").read_text()
    assert set(re.findall(r":'(\w+)'", sql)) == set(psql_variables(text))
    env = environment("postgres")
    for variable in psql_variables(text).values():
        assert REQUIRED_REFERENCE.fullmatch(env[variable]) and variable in env[variable], variable


def test_spark_runs_locally_until_the_one_scale_out_change():
    shared = environment("airflow-scheduler")
    assert json.loads(shared["AIRFLOW_CONN_SPARK_DEFAULT"]) == {"conn_type": "spark", "host": "local[*]"}
    master_port = int(flag("spark-master", "--port"))
    assert command("spark-worker")[-1] == f"spark://spark-master:{master_port}"
    change = re.compile(r"AIRFLOW_CONN_SPARK_DEFAULT[:=] ?'(\{.*\})'")
    documented = [json.loads(match) for match in change.findall(COMPOSE_FILE.read_text())]
    assert {"conn_type": "spark", "host": "spark://spark-master", "port": master_port} in documented
    readme = [json.loads(match) for match in change.findall((PROJECT_ROOT / "README.md").read_text())]
    assert {"conn_type": "spark", "host": "spark://spark-master", "port": master_port} in readme


def test_the_image_installs_the_project_and_the_jars_where_settings_looks():
    text = dockerfile()
    assert re.search(r"pip install .*-r requirements\.txt -c constraints\.txt", text)
    assert re.search(r"pip install .*--no-deps -e \.", text)
    assert re.search(r"USER root\n(?:.*\n)*?.*apt-get install .*openjdk-17-jre-headless", text)
    assert re.findall(r"^USER (\S+)", text, re.MULTILINE)[-1] == "airflow"
    repository, tag = image_tag(dockerfile_images()[0])
    assert repository == "maven" and tag.endswith("-eclipse-temurin-17")
    # One folder per POM under ops/maven, as bin/stack's install_jars.
    poms = sorted(path.parent.name for path in (PROJECT_ROOT / "ops" / "maven").glob("*/pom.xml"))
    loop = re.search(r"for name in ([\w -]+); do", text).group(1).split()
    assert sorted(loop) == poms
    assert "dependency:copy-dependencies -DincludeScope=runtime" in text
    assert Path(SPARK_KAFKA_JARS).relative_to(JARS_DIR).parts[0] in loop
    # settings.py's default JARS_DIR is <project>/.cache/jars; the project is installed in WORKDIR.
    workdir = re.findall(r"^WORKDIR (\S+)", text, re.MULTILINE)[-1]
    assert dockerfile_env("STOCKPIPE_JARS_DIR") == f"{workdir}/.cache/jars"
    assert re.search(rf"^COPY --from=jars .* {re.escape(workdir)}/\.cache/jars/?$", text, re.MULTILINE)
    assert dockerfile_env("AIRFLOW__CORE__DAGS_FOLDER") == f"{workdir}/dags"
    assert dockerfile_env("AIRFLOW__CORE__PLUGINS_FOLDER") == f"{workdir}/plugins"


@pytest.mark.parametrize("folder", ["dags", "plugins", "include", "spark_apps", "market_pipeline"])
def test_the_checkout_reaches_the_containers(folder: str):
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile(), re.MULTILINE)[-1]
    assert re.search(rf"^COPY .*\b{folder}/ {folder}/$", dockerfile(), re.MULTILINE), "the image carries a copy"
    for name in AIRFLOW_SERVICES:
        assert f"./{folder}:{workdir}/{folder}:ro" in services()[name]["volumes"], name


def test_the_build_context_leaves_local_state_out():
    ignore = (DOCKERFILE.parent / f"{DOCKERFILE.name}.dockerignore").read_text().splitlines()
    assert "*" in ignore
    included = {line[1:] for line in ignore if line.startswith("!")}
    copied = set()
    for sources in re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", dockerfile(), re.MULTILINE):
        copied |= {source.split("/")[0] for source in sources.split()}
    assert copied and sorted(copied - included) == []
    assert not {".venv", ".state", ".cache", ".env", ".git"} & included
