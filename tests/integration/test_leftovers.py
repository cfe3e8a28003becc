"""Leftovers of a killed run: a run SIGKILLed in the middle leaves its runtime directory (and
its scratch directory); the next run removes those of dead runs, says so, and leaves alone
those of runs still running (a reused pid is not taken for the owner)."""
import glob
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

SUITE = """name = "leftovers"
iterations = 2
[[experiment]]
name = "cpu"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0
"""


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


class Leftovers(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.runtime = os.path.join(self.tmp, "xdg-runtime")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.runtime)
        self.suite = os.path.join(self.tmp, "leftovers.toml")
        with open(self.suite, "w") as f:
            f.write(SUITE)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_dirs(self):
        return sorted(glob.glob(os.path.join(self.runtime, "virtbench", "run-*")))

    def test_a_sigkilled_runs_directories_are_swept_by_the_next_run(self):
        out = os.path.join(self.tmp, "out")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "--data-dir", self.data, "run", "--suite", self.suite,
                                 "--platform", "native", "--out", out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 1, 60, "a finished iteration")
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        left = self.run_dirs()
        self.assertEqual(len(left), 1, "the killed run left its runtime directory")
        with open(os.path.join(left[0], "owner")) as f:
            pid, started = map(int, f.read().split())
        self.assertEqual(pid, proc.pid)
        scratch = glob.glob(os.path.join(self.data, "scratch", "native-*"))
        self.assertEqual(len(scratch), 1, "the killed run left its native scratch directory")

        # Two more: one whose recorded pid is alive but started at another time (a reused
        # pid: this test's own, with a wrong start time), one of a live owner (this test).
        me = os.getpid()
        reused = os.path.join(self.runtime, "virtbench", "run-reused")
        live = os.path.join(self.runtime, "virtbench", "run-live")
        for d, owner in ((reused, f"{me} {start_time(me) + 1}\n"), (live, f"{me} {start_time(me)}\n")):
            os.makedirs(d)
            with open(os.path.join(d, "owner"), "w") as f:
                f.write(owner)

        p = vbtest.run("--data-dir", self.data, "run", "--suite", self.suite, "--platform", "native", "--iterations",
                       "1", "--out", os.path.join(self.tmp, "out2"), env=self.env, check=0)
        self.assertIn(f"virtbench: removed {left[0]}, left behind by a run that did not end cleanly: its owner "
                      f"(pid {proc.pid}) is no longer running", p.stderr)
        self.assertIn(f"virtbench: removed {reused}, left behind by a run that did not end cleanly: its owner "
                      f"(pid {me}) is gone; that pid is another process now", p.stderr)
        self.assertIn(f"virtbench: removed {scratch[0]}, left behind by a run that did not end cleanly", p.stderr)
        self.assertFalse(os.path.exists(left[0]))
        self.assertEqual(glob.glob(os.path.join(self.data, "scratch", "native-*")), [])
        self.assertFalse(os.path.exists(reused))
        self.assertTrue(os.path.isdir(live), "a live owner's directory must stay")
        self.assertNotIn(f"removed {live}", p.stderr)
        self.assertEqual(self.run_dirs(), [live], "the second run removed its own directory at its end")

    def test_a_dead_runs_directory_under_scratch_dir_is_swept_by_a_run_with_that_scratch_dir(self):
        scratch = os.path.join(self.tmp, "elsewhere")
        # What a killed native run leaves under --scratch-dir: its data set directory with the
        # owner file of a process that is gone (a child of this test, waited for).
        gone = subprocess.Popen(["true"])
        gone.wait()
        dead = os.path.join(scratch, "native-dead")
        os.makedirs(dead)
        with open(os.path.join(dead, "owner"), "w") as f:
            f.write(f"{gone.pid} 1\n")
        with open(os.path.join(dead, "test_file.0"), "w") as f:
            f.write("x" * 4096)
        unrelated = os.path.join(scratch, "my-own-files")
        os.makedirs(unrelated)
        p = vbtest.run("--data-dir", self.data, "run", "--suite", self.suite, "--platform", "native", "--iterations",
                       "1", "--scratch-dir", scratch, "--out", os.path.join(self.tmp, "out"), env=self.env, check=0)
        self.assertIn(f"virtbench: removed {dead}, left behind by a run that did not end cleanly: its owner "
                      f"(pid {gone.pid}) is no longer running", p.stderr)
        self.assertEqual(sorted(os.listdir(scratch)), ["my-own-files"], "only the dead run's directory goes")


if __name__ == "__main__":
    vbtest.main()
