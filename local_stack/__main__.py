"""bin/stack's calls into local_stack: `python -m local_stack COMMAND STATE_DIR` (see --help).

Host and ports come from the stack's environment (STACK_HOST, POSTGRES_PORT, KAFKA_PORT,
KAFKA_CONTROLLER_PORT, SPARK_CONNECT_PORT, SPARK_MASTER_PORT, SPARK_MASTER_WEBUI_PORT,
SPARK_WORKER_WEBUI_PORT), which bin/stack loads from config/stack.env.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local_stack import kafka, postgres, spark_cluster, spark_connect
from local_stack.ports import wait_for_port


def postgres_data_dir(state_dir: Path) -> None:
    """Print where the cluster of STATE_DIR lives."""
    print(postgres.data_dir(state_dir))


def postgres_init(state_dir: Path) -> None:
    """Create the cluster of STATE_DIR unless it exists."""
    data = postgres.data_dir(state_dir)
    if postgres.init_cluster(data):
        print(f"created a PostgreSQL cluster in {data}", file=sys.stderr)


def postgres_start(state_dir: Path) -> None:
    """Start the cluster unless it runs, bootstrap its roles and databases; print the postmaster's pid."""
    data, port = postgres.data_dir(state_dir), int(os.environ["POSTGRES_PORT"])
    if not postgres.running(data):
        postgres.start(data, os.environ["STACK_HOST"], port)
    postgres.bootstrap(data, port)
    print((data / "postmaster.pid").read_text().split()[0])


def postgres_stop(state_dir: Path) -> None:
    """Stop the cluster, fast: open transactions roll back."""
    postgres.stop(postgres.data_dir(state_dir))


def kafka_configure(state_dir: Path) -> None:
    """Write STATE_DIR/kafka/server.properties; format the storage once."""
    if kafka.configure(state_dir / "kafka", os.environ["STACK_HOST"], int(os.environ["KAFKA_PORT"]),
                       int(os.environ["KAFKA_CONTROLLER_PORT"])):
        print(f"formatted the Kafka storage in {state_dir / 'kafka' / 'data'}", file=sys.stderr)


def kafka_broker(state_dir: Path) -> None:
    """Become the broker of STATE_DIR (exec, so the caller's pid is the broker's)."""
    command = kafka.broker_command(kafka.properties_file(state_dir / "kafka"))
    os.execvp(command[0], command)


def spark_connect_server(state_dir: Path) -> None:
    """Run the Spark Connect server the drain uses, restarted whenever it dies, until stopped."""
    spark_connect.run_from_environment(state_dir)


def spark_cluster_master(state_dir: Path) -> None:
    """Become the Spark standalone master of STATE_DIR (exec), on SPARK_MASTER_PORT, its web UI
    on SPARK_MASTER_WEBUI_PORT."""
    conf = spark_cluster.configure(spark_cluster.stack_folder(state_dir))
    command = spark_cluster.master_command(conf, os.environ["STACK_HOST"], int(os.environ["SPARK_MASTER_PORT"]),
                                           int(os.environ["SPARK_MASTER_WEBUI_PORT"]))
    os.execvpe(command[0], command, spark_cluster.environment(conf))


def spark_cluster_worker(state_dir: Path) -> None:
    """Become the master's one worker (exec), its web UI on SPARK_WORKER_WEBUI_PORT, its executors'
    folders and logs in STATE_DIR/spark-cluster/work."""
    folder = spark_cluster.stack_folder(state_dir)
    conf = spark_cluster.configure(folder)
    command = spark_cluster.worker_command(conf, os.environ["STACK_HOST"], int(os.environ["SPARK_MASTER_PORT"]),
                                           int(os.environ["SPARK_WORKER_WEBUI_PORT"]), folder / "work")
    os.execvpe(command[0], command, spark_cluster.environment(conf))


COMMANDS = [postgres_data_dir, postgres_init, postgres_start, postgres_stop, kafka_configure, kafka_broker,
            spark_connect_server, spark_cluster_master, spark_cluster_worker]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.__name__.replace("_", "-"), help=command.__doc__)
        sub.add_argument("state_dir", type=Path)
        sub.set_defaults(run=lambda args, command=command: command(args.state_dir))
    wait = commands.add_parser("wait-for-port", help="Until PORT of STACK_HOST listens, while PID lives, for SECONDS.")
    wait.add_argument("--pid", type=int, required=True)
    wait.add_argument("port", type=int)
    wait.add_argument("seconds", type=float)
    wait.set_defaults(run=wait_for_listener)
    workers = commands.add_parser("spark-cluster-wait", help="Until the master of SPARK_MASTER_WEBUI_PORT lists an "
                                                             "alive worker, while every PID lives, for SECONDS.")
    workers.add_argument("--pid", type=int, action="append", required=True)
    workers.add_argument("seconds", type=float)
    workers.set_defaults(run=wait_for_worker)
    args = parser.parse_args(argv)
    args.run(args)


def wait_for_listener(args: argparse.Namespace) -> None:
    try:
        wait_for_port(os.environ["STACK_HOST"], args.port, args.seconds, alive=lambda: _alive(args.pid))
    except (RuntimeError, TimeoutError) as error:
        sys.exit(str(error))


def wait_for_worker(args: argparse.Namespace) -> None:
    try:
        spark_cluster.wait_for_workers(os.environ["STACK_HOST"], int(os.environ["SPARK_MASTER_WEBUI_PORT"]),
                                       args.seconds, alive=lambda: all(_alive(pid) for pid in args.pid))
    except (RuntimeError, TimeoutError) as error:
        sys.exit(str(error))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


if __name__ == "__main__":
    main()
