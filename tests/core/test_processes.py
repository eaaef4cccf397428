"""Process liveness, used to clean up after crashed loaders and servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from gongshu.processes import pid_alive


def test_running_killed_and_zombie_processes() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(child.pid):  # killed, not yet reaped: a zombie counts as dead
            assert time.monotonic() < deadline, "a killed child still looks alive"
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)  # reaped: gone
