"""The native platform end to end: results, report, bad suites, Ctrl-C, no root."""
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402


class NativeRun(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_quick_suite_writes_results_report_and_raw_outputs(self):
        out = os.path.join(self.tmp, "out")
        scratch = os.path.join(self.tmp, "scratch")
        p = vbtest.run("run", "--suite", "quick", "--platform", "native", "--iterations", "2", "--time", "1",
                       "--out", out, "--scratch-dir", scratch, check=0)
        self.assertEqual(p.stdout.strip(), os.path.join(out, "report.md"))
        self.assertIn("iteration 2/2", p.stderr)
        # Every progress line carries the elapsed time and an estimate of what is left.
        progress = [line for line in p.stderr.splitlines() if line.startswith("[")]
        self.assertEqual(len(progress), 9, p.stderr)
        for line in progress:
            self.assertRegex(line, r" \u2014 \d+(m\d\ds)?s? elapsed, ~\d+(s|m\d\ds) left$")
        self.assertTrue(progress[-1].endswith("~0s left"), progress[-1])
        r = vbtest.load(out)
        # Millisecond start times: the harness's own time between steps can be read off.
        self.assertRegex(r["runs"][0]["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(r["schema"], "virtbench/results/v1")
        for key in ("kernel", "cpu_model", "cpus", "memory_bytes", "hostname"):
            self.assertIn(key, r["host"])
        self.assertEqual([e["name"] for e in r["suite"]["experiments"]],
                         ["exp1-cpu-2000", "exp2-cpu-20000", "exp3-fileio-rndrw", "exp4-fileio-rndrw-async"])
        self.assertTrue(r["platforms"][0]["sysbench_version"].startswith("sysbench 1.0"))
        self.assertEqual(len(r["platforms"][0]["sysbench_sha256"]), 64)
        measured = [x for x in r["runs"] if "warmup" not in x]
        self.assertEqual(len(measured), 8)
        self.assertEqual(len([x for x in r["runs"] if "warmup" in x]), 1)  # exp1 warms up once
        for run in measured:
            self.assertEqual(run["exit_code"], 0, run)
            self.assertNotIn("error", run)
            m = run["metrics"]
            for k in ("min", "avg", "max", "p95"):
                self.assertIn(k, m["latency_ms"])
            self.assertGreater(m["total_time_s"], 0.5)
            if run["experiment"].startswith("exp1") or run["experiment"].startswith("exp2"):
                self.assertGreater(m["events_per_sec"], 0)
                self.assertNotIn("reads_per_s", m)
            else:
                for k in ("reads_per_s", "writes_per_s", "read_mib_s", "written_mib_s"):
                    self.assertGreater(m[k], 0, k)
                self.assertNotIn("events_per_sec", m)
                drop = run["cache_drops"][0]
                self.assertEqual(drop["where"], "host")
                # fincore on the data set's files: nothing of it left in the cache after the drop.
                self.assertTrue(drop["verified"], drop)
                self.assertLessEqual(drop["resident_after_kib"], 64, drop)
            cpu = run["cpu"]
            self.assertGreater(cpu["host"]["user_pct"] + cpu["host"]["kernel_pct"], 10)
            self.assertGreater(cpu["platform_process"]["user_s"] + cpu["platform_process"]["kernel_s"], 0.1)
            self.assertTrue(os.path.isfile(os.path.join(out, run["raw"])))
            with open(os.path.join(out, run["raw"])) as f:
                self.assertIn("sysbench 1.0", f.read())
        # The data set is written once per experiment (before its first iteration), not per iteration.
        for e in ("exp3-fileio-rndrw", "exp4-fileio-rndrw-async"):
            self.assertEqual([x["iteration"] for x in r["runs"] if x["experiment"] == e and x.get("prepared")], [1])
        with open(os.path.join(out, "report.md")) as f:
            report = f.read()
        self.assertIn("## native — exp3-fileio-rndrw", report)
        self.assertIn("| reads/s |", report)
        self.assertIn("| mean | std dev |", report)
        # The scratch directory is gone, and nothing was left in it.
        self.assertEqual(os.listdir(scratch), [])

    def test_preflight_refuses_impossible_plans_before_anything_starts(self):
        out = os.path.join(self.tmp, "out")
        scratch = os.path.join(self.tmp, "scratch")
        suite = os.path.join(self.tmp, "huge.toml")
        with open(suite, "w") as f:
            f.write('name = "huge"\n[[experiment]]\nname = "big"\nworkload = "fileio"\n'
                    'file-total-size = "100T"\nfile-test-mode = "rndrw"\n')
        p = vbtest.run("run", "--suite", suite, "--platform", "native", "--out", out, "--scratch-dir", scratch,
                       check=2)
        st = os.statvfs(self.tmp)
        self.assertIn("preflight: the fileio data set of experiment big (100.0 TiB) does not fit", p.stderr)
        self.assertIn(f"native in {scratch}", p.stderr)
        self.assertIn(f"needs {100 << 40} bytes", p.stderr)
        free = int(p.stderr.split(" bytes (")[1].split("), ")[1].split(" bytes")[0])
        self.assertLess(abs(free - st.f_bavail * st.f_frsize), 1 << 30, p.stderr)  # the filesystem's free space
        self.assertFalse(os.path.exists(out), "nothing is written before the preflight passes")
        self.assertNotIn("starting native", p.stderr)

        # A plan longer than a day needs --yes (checked, not run: 2000 x 4 steps of 100 s).
        p = vbtest.run("run", "--suite", "quick", "--platform", "native", "--iterations", "2000", "--time", "100",
                       "--out", out, check=2)
        self.assertIn("preflight: the plan is estimated to take", p.stderr)
        self.assertIn("pass --yes to run it anyway", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_report_regenerates_from_results_json_alone(self):
        out = os.path.join(self.tmp, "out")
        vbtest.run("run", "--suite", "quick", "--iterations", "1", "--time", "1", "--out", out, check=0)
        os.remove(os.path.join(out, "report.md"))
        vbtest.run("report", out, check=0)
        self.assertIn("## native — exp1-cpu-2000", open(os.path.join(out, "report.md")).read())

    def test_bad_suite_files_get_one_line_errors_and_exit_2(self):
        cases = {
            "typo": ('cpu-max-prim = 2000', 'unknown key "cpu-max-prim" (did you mean "cpu-max-prime"?)'),
            "type": ('cpu-max-prime = "2000"', '"cpu-max-prime" must be an integer'),
            "negative": ('time = -3', '"time" must be ≥ 1, got -3'),
        }
        for name, (line, expected) in cases.items():
            path = os.path.join(self.tmp, name + ".toml")
            with open(path, "w") as f:
                f.write(f'name = "s"\n[[experiment]]\nname = "e"\nworkload = "cpu"\n{line}\n')
            p = vbtest.run("run", "--suite", path, "--out", os.path.join(self.tmp, name), check=2)
            self.assertIn(path + ":5:", p.stderr)
            self.assertIn(expected, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        path = os.path.join(self.tmp, "noworkload.toml")
        with open(path, "w") as f:
            f.write('name = "s"\n[[experiment]]\nname = "e"\n')
        p = vbtest.run("run", "--suite", path, "--out", os.path.join(self.tmp, "x"), check=2)
        self.assertIn('missing key "workload"', p.stderr)
        p = vbtest.run("run", "--suite", "no-such-suite", check=2)
        self.assertIn("built-in suites: coen241-hw1, quick", p.stderr)
        p = vbtest.run("run", "--platform", "native,vmware", check=2)
        self.assertIn('unknown platform "vmware"', p.stderr)

    def test_ctrl_c_keeps_finished_iterations_and_leaves_nothing(self):
        out = os.path.join(self.tmp, "out")
        scratch = os.path.join(self.tmp, "scratch")
        runtime = os.path.join(self.tmp, "xdg-runtime")
        os.makedirs(runtime)
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", "coen241-hw1", "--time", "2", "--out", out,
                                 "--scratch-dir", scratch], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 2, 60, "two finished iterations")
            vbtest.wait_for(lambda: vbtest.processes_in(scratch), 30, "this run's sysbench running")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted", err)
        # No sysbench of this run survives (its cwd was the run's scratch directory; other
        # runs on the machine are not ours to judge).
        self.assertEqual(vbtest.processes_in(scratch), [])
        self.assertEqual(os.listdir(scratch), [])
        self.assertEqual(os.listdir(os.path.join(runtime, "virtbench")), [])  # the run's private dir is gone
        r = vbtest.load(out)
        self.assertTrue(r["interrupted"])
        self.assertGreaterEqual(len(r["runs"]), 2)
        for run in r["runs"]:
            self.assertIn("events_per_sec", run["metrics"])
        self.assertTrue(os.path.isfile(os.path.join(out, "report.md")))

    def test_fileio_without_root_says_to_use_no_drop_caches(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to switch to an unprivileged user")
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        os.chmod(self.tmp, 0o755)
        shutil.chown(home, "nobody")
        env = dict(os.environ, HOME=home, XDG_DATA_HOME=home, XDG_RUNTIME_DIR="")
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", vbtest.VIRTBENCH, "run",
               "--suite", "quick", "--iterations", "1", "--time", "1", "--out", os.path.join(home, "out")]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--no-drop-caches", p.stderr)
        p = subprocess.run(cmd + ["--no-drop-caches", "--force"], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
