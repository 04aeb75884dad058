"""The embedded MQTT broker: Debian's ``mosquitto`` on loopback, in a folder of the data dir.

Started the way the embedded PostgreSQL is (``layers/cluster.py``): by the
``wangge`` command when no broker URL is configured (``WANGGE_MQTT_URL``
unset), stopped when it exits. Its folder keeps the configuration, the log
and the persistence file, so QoS 1 messages queued for wangge's persistent
session survive a broker restart. A deployment points ``WANGGE_MQTT_URL`` at
its own broker (docker-compose runs ``eclipse-mosquitto``).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


class BrokerUnavailable(RuntimeError):
    """mosquitto is not installed or did not start."""


def find_mosquitto() -> str:
    """The mosquitto binary (scripts/ensure_system_packages.sh mosquitto installs it)."""
    for path in MOSQUITTO:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("mosquitto")
    if found is None:
        raise BrokerUnavailable("mosquitto is not installed: run scripts/ensure_system_packages.sh mosquitto, "
                                "or set WANGGE_MQTT_URL (off: no MQTT)")
    return found


def _config(folder: Path, port: int) -> str:
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {folder}/",
        "autosave_interval 5",
        # wangge's session may be away a while: keep what comes meanwhile
        "max_queued_messages 1000000",
        # the subscriber acknowledges a batch after it is committed: let a batch's worth be in flight
        "max_inflight_messages 1000",
        f"log_dest file {folder}/mosquitto.log",
        "log_type error",
        "log_type warning",
    ]
    if os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")  # as root, mosquitto would switch to its own user
    return "\n".join(lines) + "\n"


class EmbeddedBroker:
    """A mosquitto process on ``127.0.0.1:port`` with its files in ``folder``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's URL for ``WANGGE_MQTT_URL``."""
        return f"mqtt://127.0.0.1:{self.port}"

    def _accepts(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def start(self, timeout_s: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts connections."""
        binary = find_mosquitto()
        if self._accepts():
            raise BrokerUnavailable(f"port {self.port} is taken: set WANGGE_MQTT_PORT or WANGGE_MQTT_URL")
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "mosquitto.conf"
        config.write_text(_config(self.folder, self.port), encoding="utf-8")
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BrokerUnavailable(f"mosquitto did not start; see {self.folder / 'mosquitto.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop mosquitto (it saves its persistence file on the way out)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
