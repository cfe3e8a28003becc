"""Shared helpers for virtbench's integration tests (run by meson with VIRTBENCH set)."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

VIRTBENCH = os.environ.get("VIRTBENCH") or sys.exit("VIRTBENCH is not set: run through `meson test`")


# Two short cpu experiments (1 s iterations, no warm-up): runs that take seconds.
CPU_SUITE = """name = "cpu-pair"
description = "Two short cpu experiments for the integration tests"
iterations = 3

[[experiment]]
name = "cpu-small"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0

[[experiment]]
name = "cpu-large"
workload = "cpu"
cpu-max-prime = 20000
time = 1
warmup = 0
"""


def write_results(parent, name, doc):
    """Writes `doc` as parent/name/results.json; returns the directory."""
    d = os.path.join(parent, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(doc, f)
    return d


def run(*args, check=None, timeout=900, **kw):
    """Runs virtbench with args; returns CompletedProcess (text). check: expected exit code."""
    p = subprocess.run([VIRTBENCH, *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check is not None and p.returncode != check:
        raise AssertionError(f"virtbench {' '.join(args)}: exit {p.returncode}, expected {check}\n"
                             f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p


def load(out_dir):
    with open(os.path.join(out_dir, "results.json")) as f:
        return json.load(f)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def runs_in(out_dir):
    try:
        return load(out_dir)["runs"]
    except (OSError, ValueError):
        return []


def pgrep(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def processes_in(directory):
    """PIDs of processes whose working directory is inside `directory` (also once it is deleted)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == directory or cwd.startswith(directory.rstrip("/") + "/"):
            found.append(int(pid))
    return found


def temp_dir():
    return tempfile.mkdtemp(prefix="vbtest-")


class _TimedResult(unittest.TextTestResult):
    """Prints each test's wall time after its verdict, so a slow test case is named in the log."""

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.stream.writeln(f"    ({time.monotonic() - self._started:.1f} s) {test.id().split('.')[-1]}")
        self.stream.flush()


def main():
    """unittest.main with each test's verdict and wall time."""
    unittest.main(testRunner=unittest.TextTestRunner(verbosity=2, resultclass=_TimedResult))
