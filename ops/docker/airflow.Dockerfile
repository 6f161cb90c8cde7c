# The one image of docker-compose.yaml's Airflow services (init, api-server, scheduler,
# dag-processor, triggerer, provision), of the Alpha Vantage simulator and of the Spark Connect
# server: Airflow and Python at the pins of requirements.txt, the project (editable, like
# bin/stack's install), Java 17 for spark-submit, and the jars bin/stack's install_jars resolves
# from ops/maven/*/pom.xml.
# Built by `docker compose build`; never built on this project's CI machines (no Docker engine).
# Image tags were not checked against the registries (no registry access when this was written).
# Build context: the repository root; ops/docker/airflow.Dockerfile.dockerignore keeps .venv,
# .state and .cache out of it.

# --- Stage 1: the Maven jars, one folder per POM, as bin/stack's install_jars ---------------
FROM maven:3.9.11-eclipse-temurin-17 AS jars
WORKDIR /build
COPY ops/maven/ maven/
RUN set -eu; \
    for name in kafka-broker spark-kafka postgres-jdbc; do \
      mvn -B -q -f "maven/$name/pom.xml" -Dmaven.repo.local=/build/m2 \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="/build/jars/$name"; \
    done

# --- Stage 2: Airflow, Java, the packages, the project --------------------------------------
FROM apache/airflow:3.3.2-python3.11

# Java 17 for spark-submit (SparkSubmitOperator runs it inside the scheduler's tasks): Debian's
# package, as bin/stack installs it. The base image is Debian 12 (bookworm); Debian 13 has no
# openjdk-17, so a base image moved to it would need the JRE copied from the maven stage instead.
USER root
RUN set -eux; \
    mkdir -p /usr/share/man/man1; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    java -version; \
    mkdir -p /opt/stockpipe; \
    chown airflow:0 /opt/stockpipe
USER airflow

# The project lives where market_pipeline/settings.py finds everything relative to it
# (PROJECT_ROOT = /opt/stockpipe): include/sql, spark_apps, config; state and jars below.
ENV STOCKPIPE_STATE_DIR=/opt/stockpipe/.state \
    STOCKPIPE_JARS_DIR=/opt/stockpipe/.cache/jars \
    AIRFLOW_HOME=/opt/stockpipe/.state/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/stockpipe/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/stockpipe/plugins \
    SPARK_CONF_DIR=/opt/stockpipe/ops/spark
WORKDIR /opt/stockpipe

# The same resolution as bin/stack's install_python: top-level pins, frozen by constraints.txt.
# pyspark brings spark-submit onto the PATH.
COPY --chown=airflow:0 requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt

COPY --from=jars --chown=airflow:0 /build/jars/ /opt/stockpipe/.cache/jars/

# A copy of the code, so the image runs on its own; docker-compose.yaml also mounts the folders
# over these paths, so edits in the checkout reach the containers without a rebuild.
COPY --chown=airflow:0 pyproject.toml ./
COPY --chown=airflow:0 market_pipeline/ market_pipeline/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 spark_apps/ spark_apps/
COPY --chown=airflow:0 config/ config/
COPY --chown=airflow:0 ops/ ops/
COPY --chown=airflow:0 local_stack/ local_stack/
# The state folder exists in the image so a fresh named volume mounted on it belongs to airflow.
RUN set -eux; \
    pip install --no-cache-dir --no-deps -e .; \
    mkdir -p "$AIRFLOW_HOME" "$STOCKPIPE_STATE_DIR/checkpoints"; \
    spark-submit --version; \
    ls "$STOCKPIPE_JARS_DIR"/spark-kafka/spark-sql-kafka-0-10_2.13-*.jar
