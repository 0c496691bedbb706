"""python -m attache_devstack.run — the whole stack on this machine, without Docker (`make run`).

Checks PostgreSQL and RabbitMQ, creates the `attache` database, starts SeaweedFS
(data in .run/seaweedfs/) and the four services (logs in .run/logs/), waits until
catalog and gateway are ready, prints the gateway URL and a development token,
and stays in the foreground until Ctrl-C or SIGTERM, then stops everything.
ATTACHE_* variables already set in the environment win over the defaults here,
except the S3 endpoint and keys: those are always the SeaweedFS started here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attache_core.auth import issue_dev_token
from attache_core.settings import CommonSettings
from attache_devstack import infra
from attache_devstack.seaweedfs import GRPC_OFFSET, REPO_ROOT, SeaweedFS

RUN_DIR = REPO_ROOT / ".run"
LOG_DIR = RUN_DIR / "logs"
DATABASE = "attache"
# The credentials of deploy/seaweedfs/identities.json.
S3_ACCESS_KEY = "attache-dev-access"
S3_SECRET_KEY = "attache-dev-secret-key-change-me"
# Start order: the gateway relays to the catalog, the importer loads into its schema.
SERVICES = ("catalog", "gateway", "enricher", "importer")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class StackFailed(Exception):
    """A message for the person at the terminal; no traceback needed."""


class Stopped(BaseException):
    """Ctrl-C or SIGTERM. Like KeyboardInterrupt, no `except Exception` swallows it."""


def _raise_stopped(_signum: int, _frame: object) -> None:
    raise Stopped


def _port_setting(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StackFailed(f"{variable}={value!r} is not a TCP port")
    return int(value)


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _require_free(port: int, what: str, variable: str) -> None:
    if _port_taken(port):
        raise StackFailed(
            f"Port {port} ({what}) is already in use — is another `make run` still running? "
            f"Stop whatever listens there (`ss -ltnp 'sport = :{port}'`) or set {variable}."
        )


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"


def _exit_status(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def _is_ready(url: str) -> bool:
    try:
        # Only the http://127.0.0.1 URLs built below, never user input.
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Stack:
    """SeaweedFS and the service processes this run started, stopped in reverse order."""

    def __init__(self) -> None:
        self.seaweedfs: SeaweedFS | None = None
        self.processes: dict[str, subprocess.Popen] = {}

    def start_service(self, name: str, env: dict[str, str]) -> None:
        with open(LOG_DIR / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
            # Its own session: Ctrl-C reaches only this script, which stops the services in order.
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"attache_{name}"],
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name, process.returncode
        return None

    def wait_ready(self, urls: dict[str, str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = dict(urls)
        while waiting:
            if (exited := self.exited()) is not None:
                name, code = exited
                raise StackFailed(
                    f"{name} {_exit_status(code)} while starting. "
                    f"Last lines of {LOG_DIR / name}.log:\n{_tail(LOG_DIR / f'{name}.log')}"
                )
            for name, url in list(waiting.items()):
                if _is_ready(url):
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                name = next(iter(waiting))
                raise StackFailed(
                    f"{name} was not ready within {READY_TIMEOUT:.0f} s ({waiting[name]}). "
                    f"Last lines of {LOG_DIR / name}.log:\n{_tail(LOG_DIR / f'{name}.log')}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
        for name, process in reversed(self.processes.items()):
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop within {STOP_TIMEOUT:.0f} s: killing it", flush=True)
                process.kill()
                process.wait()
        if self.seaweedfs is not None:
            self.seaweedfs.stop()


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Shutdown runs to the end even if Ctrl-C is pressed again (every wait is bounded)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _service_env(s3_endpoint: str, catalog_port: int) -> dict[str, str]:
    """os.environ plus what points the services at this run's database, broker and S3."""
    env = dict(os.environ)
    admin_db = env.get("ATTACHE_ADMIN_DATABASE_URL", infra.DEFAULT_POSTGRES_URL)
    env.setdefault("ATTACHE_DATABASE_URL", infra.with_database(admin_db, DATABASE))
    env.setdefault("ATTACHE_AMQP_URL", env.get("ATTACHE_ADMIN_AMQP_URL", infra.DEFAULT_AMQP_URL))
    env.setdefault("ATTACHE_CATALOG_URL", f"http://127.0.0.1:{catalog_port}")
    env.setdefault("ATTACHE_LOG_FORMAT", "console")
    env.setdefault("ATTACHE_BIND_HOST", "127.0.0.1")
    # This run's SeaweedFS, with the keys of its identities file, whatever the shell says.
    env["ATTACHE_S3_ENDPOINT_URL"] = s3_endpoint
    env["ATTACHE_S3_ACCESS_KEY"] = S3_ACCESS_KEY
    env["ATTACHE_S3_SECRET_KEY"] = S3_SECRET_KEY
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _banner(gateway_url: str, seaweedfs: SeaweedFS) -> str:
    token = issue_dev_token(
        CommonSettings(), sub="user-demo", org_id="org-demo", roles=["admin"], ttl_seconds=24 * 3600
    )
    logs = f"{LOG_DIR}/{{{','.join(SERVICES)},seaweedfs}}.log"
    return (
        f"\nAttache is running.\n\n"
        f"  Gateway:  {gateway_url}   (API description: {gateway_url}/openapi.json)\n"
        f"  S3:       {seaweedfs.endpoint_url}   (SeaweedFS, data in {seaweedfs.data_dir})\n"
        f"  Logs:     {logs}\n\n"
        f"  Development token (admin of org-demo, sub user-demo, valid 24 h):\n\n"
        f"    export TOKEN={token}\n\n"
        f"Press Ctrl-C to stop."
    )


def run() -> None:
    admin_db = os.environ.get("ATTACHE_ADMIN_DATABASE_URL", infra.DEFAULT_POSTGRES_URL)
    admin_amqp = os.environ.get("ATTACHE_ADMIN_AMQP_URL", infra.DEFAULT_AMQP_URL)
    s3_port = _port_setting("ATTACHE_S3_PORT", 8333)
    gateway_port = _port_setting("ATTACHE_GATEWAY_PORT", 8080)
    catalog_port = _port_setting("ATTACHE_CATALOG_PORT", 8081)

    infra.require_postgres(admin_db)
    infra.require_rabbitmq(admin_amqp)
    _require_free(s3_port, "SeaweedFS S3", "ATTACHE_S3_PORT")
    _require_free(s3_port + GRPC_OFFSET, "SeaweedFS S3 gRPC, S3 port + 10000", "ATTACHE_S3_PORT")
    _require_free(gateway_port, "gateway", "ATTACHE_GATEWAY_PORT")
    _require_free(catalog_port, "catalog", "ATTACHE_CATALOG_PORT")
    asyncio.run(infra.create_database(admin_db, DATABASE, exist_ok=True))
    LOG_DIR.mkdir(parents=True, exist_ok=True)

    stack = Stack()
    try:
        print(f"Starting SeaweedFS (S3 on 127.0.0.1:{s3_port}) …", flush=True)
        stack.seaweedfs = SeaweedFS(
            RUN_DIR / "seaweedfs",
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
            s3_port=s3_port,
            log_path=LOG_DIR / "seaweedfs.log",
        )
        try:
            stack.seaweedfs.start()
        except RuntimeError as exc:
            raise StackFailed(
                f"{exc}. Last lines of {LOG_DIR / 'seaweedfs.log'}:\n"
                f"{_tail(LOG_DIR / 'seaweedfs.log')}"
            ) from None

        env = _service_env(stack.seaweedfs.endpoint_url, catalog_port)
        os.environ.update(env)  # the token below is signed with the services' settings
        print(f"Starting {', '.join(SERVICES)} …", flush=True)
        for name in SERVICES:
            stack.start_service(name, env)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        stack.wait_ready(
            {"catalog": f"http://127.0.0.1:{catalog_port}/ready", "gateway": f"{gateway_url}/ready"}
        )

        print(_banner(gateway_url, stack.seaweedfs), flush=True)
        while (exited := stack.exited()) is None:
            time.sleep(0.5)
        name, code = exited
        raise StackFailed(
            f"{name} {_exit_status(code)}; stopping the stack. "
            f"Last lines of {LOG_DIR / name}.log:\n{_tail(LOG_DIR / f'{name}.log')}"
        )
    finally:
        with _signals_ignored():
            print("Stopping …", flush=True)
            stack.stop()


def main() -> None:
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    try:
        run()
    except (infra.InfrastructureMissing, StackFailed) as exc:
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Stopped:
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
