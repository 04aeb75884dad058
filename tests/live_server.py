"""The app under a real uvicorn on a loopback port, for clients that need a socket (GDAL, Chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from layers.cluster import free_port


@contextmanager
def serving(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` in a thread (on ``port``, else a free one); yield its base URL and stop it afterwards."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a start-up wait, not a time limit on anything tested
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join()


@contextmanager
def serving_process(database_url: str) -> Iterator[str]:
    """Serve the app from the environment in a child process; yield its base URL.

    For clients that hold the GIL while they wait on the socket (GDAL through
    pyogrio): a server thread in the same process would never answer them.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "WANGGE_ESCALATE_EVERY_S": "0"}
    child = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
                              "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # a start-up wait, not a time limit on anything tested
            if child.poll() is not None:
                raise RuntimeError(f"the server exited with {child.returncode}")
            try:
                urllib.request.urlopen(f"{url}/health").close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        child.terminate()
        child.wait()
