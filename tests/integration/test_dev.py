"""`signpost dev` starts, shows an alert from its demo stream, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ALERT_DEADLINE_S = 60.0


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sigint", ["default", "ignored", "group"])
def test_dev_shows_alerts_and_stops_everything(sigint: str) -> None:
    """`ignored`: started as a shell's background job or under nohup would be, with SIGINT
    ignored; Ctrl-C (SIGINT) must stop everything all the same. `group`: Ctrl-C as a
    terminal sends it, to dev and the services it started at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    proc = subprocess.Popen([sys.executable, "-m", "signpost.cli", "dev", "--rate", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=_ignore_sigint if sigint == "ignored" else None,
                            start_new_session=sigint == "group")
    assert proc.stdout is not None
    lines: list[str] = []
    seen_alert = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if "ALERT" in lines[-1]:
                seen_alert.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert seen_alert.wait(ALERT_DEADLINE_S), "no alert within 60 s:\n" + "".join(lines)
        started = _descendants(proc.pid)
        assert len(started) >= 5, started  # broker, redis-server and the three services
    finally:
        if sigint == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()  # SIGTERM: dev stops its children; nothing left to later tests
            proc.wait(timeout=30)
            raise
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in started if _alive(p)], "processes left running after Ctrl-C"
    assert "BAD SIGNATURE" not in "".join(lines)
    assert proc.returncode == 0, "".join(lines[-20:])
    assert any("stopping" in line for line in lines), "".join(lines[-20:])
