"""A PostgreSQL cluster of the stack: its folders, initdb, start, bootstrap, stop.

The server refuses to run as root, so as root every command runs as the postgres user (from `/`:
that user may not be able to read the caller's working folder), and what the server writes is
owned by it. The local socket is trusted (it lives in a folder only the server's user can enter);
TCP on the host's address takes passwords.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import subprocess
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The same files, in the same order, as the compose stack's ops/docker/postgres-init.sh.
BOOTSTRAP_SQL = PROJECT_ROOT / "include" / "sql" / "bootstrap"
ROLE_PASSWORDS = {"airflow_password": "POSTGRES_AIRFLOW_PASSWORD",
                  "warehouse_password": "POSTGRES_WAREHOUSE_PASSWORD",
                  "reader_password": "POSTGRES_READER_PASSWORD"}


def bin_dir() -> Path:
    """Debian's binaries of the major version config/stack.env names (POSTGRES_VERSION)."""
    return Path("/usr/lib/postgresql") / os.environ["POSTGRES_VERSION"] / "bin"


def data_dir(state_dir: Path) -> Path:
    """`state_dir/postgres`, unless the server's user cannot reach it (root with a checkout in a
    private home): then a folder of its own under /var/lib, one per state folder."""
    if os.getuid() == 0 and _as_postgres("test", "-x", str(state_dir), check=False).returncode != 0:
        digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
        return Path("/var/lib/stock-pipeline") / digest / "postgres"
    return state_dir / "postgres"


def socket_dir(data: Path) -> Path:
    return data / "run"


def log_file(data: Path) -> Path:
    """Beside the data folder: the server writes it, so it must be where the server's user can."""
    return data.parent / "postgres.log"


def init_cluster(data: Path) -> bool:
    """initdb, unless `data` holds a cluster already; True if it made one. The superuser gets a
    random password nobody keeps: it logs in through the trusted socket only."""
    if (data / "PG_VERSION").exists():
        return False
    data.mkdir(parents=True, exist_ok=True)
    _chown_postgres(data)
    with tempfile.NamedTemporaryFile("w", suffix=".pw") as password_file:
        password_file.write(secrets.token_hex(24))
        password_file.flush()
        _chown_postgres(Path(password_file.name))
        _as_postgres(bin_dir() / "initdb", "-D", data, "-U", "postgres", f"--pwfile={password_file.name}",
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
    return True


def start(data: Path, host: str, port: int) -> int:
    """pg_ctl start, waiting until it accepts connections; the postmaster's pid."""
    run = socket_dir(data)
    run.mkdir(mode=0o700, exist_ok=True)
    run.chmod(0o700)
    log = log_file(data)
    log.touch()
    for path in (run, log):
        _chown_postgres(path)
    _as_postgres(bin_dir() / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
                 "-o", f"-p {port} -c listen_addresses={host} -c unix_socket_directories={run}", "start")
    return int((data / "postmaster.pid").read_text().split()[0])


def running(data: Path) -> bool:
    return _as_postgres(bin_dir() / "pg_ctl", "-D", data, "status", check=False).returncode == 0


def stop(data: Path, mode: str = "fast") -> None:
    """`fast` rolls back open transactions and shuts down cleanly; `immediate` is a crash
    (recovery runs at the next start)."""
    _as_postgres(bin_dir() / "pg_ctl", "-D", data, "-m", mode, "-w", "stop")


def bootstrap(data: Path, port: int) -> None:
    """The stack's roles (with the passwords of the environment), databases and grants.
    Idempotent, so bin/stack runs it at every start: a password changed in .env reaches its role."""
    variables = [arg for name, env in ROLE_PASSWORDS.items() for arg in ("-v", f"{name}={os.environ[env]}")]
    _psql(data, port, "postgres", BOOTSTRAP_SQL / "databases_and_roles.sql", *variables)
    for database in _psql(data, port, "postgres", BOOTSTRAP_SQL / "warehouse_databases.sql").split():
        _psql(data, port, database, BOOTSTRAP_SQL / "warehouse_database.sql")


def _psql(data: Path, port: int, database: str, script: Path, *args: str) -> str:
    """psql as the superuser over the trusted socket; the script on stdin, as the server's user
    may not be able to read the checkout."""
    command = [bin_dir() / "psql", "-h", socket_dir(data), "-p", str(port), "-U", "postgres", "-d", database,
               "-v", "ON_ERROR_STOP=1", "-qAt", *args]
    with script.open() as stdin:
        return _as_postgres(*command, stdin=stdin).stdout


def _as_postgres(*command, stdin=None, check: bool = True) -> subprocess.CompletedProcess:
    args = [str(part) for part in command]
    program = Path(args[0]).name
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    result = subprocess.run(args, cwd="/", stdin=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{program} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _chown_postgres(path: Path) -> None:
    if os.getuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
