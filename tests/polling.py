"""Waiting on a condition with a deadline, for the Python end-to-end tests
(no test sleeps and hopes)."""

import subprocess
import time


def wait_for(what, condition, timeout_s, every_s=0.2):
    """Returns condition()'s first truthy value; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)  # the polling interval


def stop_process(proc, timeout_s=30):
    """SIGTERM, then SIGKILL if `proc` has not ended within timeout_s; reaps it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
