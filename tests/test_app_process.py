"""`curate app` as a process: killing it stops Streamlit too, and the store's lock goes with it.

A real subprocess on a free port with a temporary store. A websocket session (what a browser
opens first) makes the app run a page, which opens the store; then SIGTERM goes to `curate`
alone, never to its child, as a service manager or `kill PID` would send it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from websockets.sync.client import connect

from curation.cli import _run_forwarding_signals
from curation.store import Store
from tests.browser.server import ROOT, _wait_healthy, free_port

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
TIMEOUT_S = 60


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def holds_file(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def first_run_request() -> bytes:
    """What a browser tab sends first over the websocket: run the script."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    msg.rerun_script.page_script_hash = ""
    return msg.SerializeToString()


def wait_for(check, what: str) -> None:
    deadline = time.time() + TIMEOUT_S
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_sigterm_to_curate_app_stops_streamlit_and_frees_the_store(tmp_path):
    store = tmp_path / "store.duckdb"
    Store(store).close()
    port = free_port()
    log = tmp_path / "app.log"
    env = {k: v for k, v in os.environ.items() if k != "CLEAR_STUDIO_STORE"}
    command = [sys.executable, "-m", "curation.cli", "app", "--store", str(store), "--port", str(port)]
    with open(log, "w") as out:
        curate = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    streamlit: list[int] = []
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", curate, log)
        streamlit = children_of(curate.pid)
        assert len(streamlit) == 1, streamlit
        with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]) as session:
            session.send(first_run_request())
            wait_for(lambda: holds_file(streamlit[0], store), "the app to open the store")
            curate.send_signal(signal.SIGTERM)
            code = curate.wait(TIMEOUT_S)
        assert code in (0, 128 + signal.SIGTERM), log.read_text()
        assert not alive(streamlit[0]), "the Streamlit child outlived `curate app`"
        with pytest.raises(ConnectionRefusedError, match="refused"):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        duckdb.connect(str(store)).close()  # the lock is free
    finally:
        for pid in streamlit:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if curate.poll() is None:
            curate.kill()
            curate.wait(10)


CHILD = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
open(sys.argv[1], "w").close()
time.sleep(60)
"""


def test_a_signal_to_the_parent_reaches_the_child_and_its_status_comes_back(tmp_path):
    ready = tmp_path / "ready"

    def terminate_us_once_the_child_runs() -> None:
        wait_for(ready.exists, "the child to start")
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_us_once_the_child_runs, daemon=True).start()
    assert _run_forwarding_signals([sys.executable, "-c", CHILD, str(ready)]) == 7
    assert signal.getsignal(signal.SIGTERM) is before
