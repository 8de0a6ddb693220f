"""Waiting on a condition with a deadline, for the Python end-to-end tests
(no test sleeps and hopes)."""

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
