"""Reports, compare's input checks and history end to end: fixtures in tests/data/results and live
native runs (compare's verdicts: test_compare.py)."""
import os
import re
import shutil
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

DATA = os.environ.get("VIRTBENCH_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "data")
RESULTS = os.path.join(DATA, "results")

CPU_SUITE = vbtest.CPU_SUITE


def read(path):
    with open(path) as f:
        return f.read()


def rows(text):
    """compare's table rows as dicts (experiment, platform, metric, verdict)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(\S+)\s+(.+?)\s+\d+r?/\d+\s+.*?\s{2}(regressed|improved|no change|insufficient data|"
                     r"undecided: run more|noise unknown|higher \(info\)|lower \(info\))$", line)
        if m:
            out.append({"experiment": m[1], "platform": m[2], "metric": m[3].strip(), "verdict": m[4]})
    return out


class Reports(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fixture(self, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(RESULTS, name), dst)
        return dst

    def test_html_is_one_self_contained_file_with_every_chart(self):
        d = self.fixture("three-platforms")
        p = vbtest.run("report", d, "--format", "html", check=0)
        path = os.path.join(d, "report.html")
        self.assertEqual(p.stdout.strip(), path)
        self.assertNotIn("warning", p.stderr)
        html = read(path)
        # 4 experiments x (headline bars with CI, latency, user/kernel/iowait stacks)
        self.assertEqual(html.count("<svg"), 12)
        self.assertNotIn("not drawn", html)
        for needle in ("exp1-cpu-2000: events/s (mean, 95% CI)", "exp3-fileio-rndrw: latency (ms, means)",
                       "exp4-fileio-rndrw-async: CPU time (% of all CPUs)", "qemu (guest)"):
            self.assertIn(needle, html)
        # Nothing loaded from elsewhere: no scripts, stylesheets, images or external links.
        for pattern in (r"<script", r"<link", r"<img", r"src=", r"href=[\"']https?:", r"@import", r"url\(http"):
            self.assertIsNone(re.search(pattern, html), pattern)
        # Each chart's ids are its own.
        ids = re.findall(r"id=['\"]([^'\"]+)['\"]", html)
        self.assertEqual(len(ids), len(set(ids)))

    def test_markdown_summary_gives_ratios_to_native_with_intervals(self):
        d = self.fixture("three-platforms")
        vbtest.run("report", d, check=0)
        md = read(os.path.join(d, "report.md"))
        self.assertLess(md.index("## Summary"), md.index("## native — exp1-cpu-2000"))
        self.assertIn("Accelerator: qemu tcg", md)
        qemu = [l for l in md.splitlines() if l.startswith("| exp2-cpu-20000 | events/s | qemu |")]
        self.assertEqual(len(qemu), 1)
        self.assertRegex(qemu[0], r"\| \d+\.\d\d× slower \(\d+\.\d\d–\d+\.\d\d\) \|")
        docker = [l for l in md.splitlines() if l.startswith("| exp2-cpu-20000 | events/s | docker |")][0]
        self.assertIn("within noise", docker)

    def test_csv_has_one_row_per_run_record(self):
        d = self.fixture("three-platforms")
        vbtest.run("report", d, "--format", "csv", check=0)
        import csv
        with open(os.path.join(d, "report.csv"), newline="") as f:
            table = list(csv.DictReader(f))
        self.assertEqual(len(table), len(vbtest.load(d)["runs"]))
        failed = [r for r in table if r["error"]]
        self.assertEqual([(r["platform"], r["experiment"], r["iteration"]) for r in failed],
                         [("qemu", "exp3-fileio-rndrw", "2")])
        self.assertGreater(float(table[-1]["host_user_pct"] or table[-1]["host_kernel_pct"]), 0)

    def test_compare_bad_input_exits_2_and_says_what_differs(self):
        a = os.path.join(RESULTS, "native-a")
        p = vbtest.run("compare", a, os.path.join(self.tmp, "missing"), check=2)
        self.assertIn("no such file", p.stderr)
        vbtest.run("compare", a, check=2)
        other = self.fixture("native-b")
        doc = vbtest.load(other)
        doc["suite"]["experiments"][0]["args"][0] = "--cpu-max-prime=3000"
        import json
        with open(os.path.join(other, "results.json"), "w") as f:
            json.dump(doc, f)
        p = vbtest.run("compare", a, other, check=2)
        self.assertIn('"exp1-cpu-2000" differs', p.stderr)
        self.assertIn("--cpu-max-prime=3000", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_compare_refuses_runs_measured_differently_unless_allowed(self):
        import json
        base = self.fixture("three-platforms")
        cand = os.path.join(self.tmp, "cand")
        shutil.copytree(base, cand)
        doc = vbtest.load(cand)
        qemu = next(p for p in doc["platforms"] if p["name"] == "qemu")
        qemu["cache_mode"] = "writeback" if qemu.get("cache_mode") != "writeback" else "none"
        with open(os.path.join(cand, "results.json"), "w") as f:
            json.dump(doc, f)
        p = vbtest.run("compare", base, cand, check=2)
        self.assertIn("measured differently", p.stderr)
        self.assertIn("qemu.cache_mode:", p.stderr)
        self.assertIn("--allow-mismatch", p.stderr)
        p = vbtest.run("compare", base, cand, "--allow-mismatch", check=0)
        self.assertIn("qemu.cache_mode:", p.stderr)

    def test_runs_go_into_history_and_compare_against_it(self):
        data = os.path.join(self.tmp, "data")
        suite = os.path.join(self.tmp, "cpu-pair.toml")
        with open(suite, "w") as f:
            f.write(CPU_SUITE)
        outs = []
        for n in range(2):
            out = os.path.join(self.tmp, f"run{n}")
            p = vbtest.run("--data-dir", data, "run", "--suite", suite, "--out", out, check=0)
            self.assertIn("history: recorded run", p.stderr)
            self.assertNotIn("warning", p.stderr)
            # run writes every report, not only report.md
            self.assertEqual(read(os.path.join(out, "report.html")).count("<svg"), 6)  # 2 experiments x 3 charts
            self.assertEqual(len(read(os.path.join(out, "report.csv")).splitlines()), 1 + 6)
            outs.append(out)
        db = os.path.join(data, "history.sqlite")
        with sqlite3.connect(db) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM runs").fetchone()[0], 2)
        p = vbtest.run("--data-dir", data, "history", "--experiment", "cpu-small", check=0)
        listed = [l for l in p.stdout.splitlines()[1:] if "cpu-small" in l]
        self.assertEqual(len(listed), 2, p.stdout)
        self.assertTrue(all("events/s" in l for l in listed))
        p = vbtest.run("history", "--db", db, "--metric", "p95", "--platform", "native", check=0)
        self.assertEqual(len(p.stdout.splitlines()), 1 + 4, p.stdout)  # header + 2 runs x 2 experiments
        # The newest run against the one before it, from history alone.
        for against in ("last", "best"):
            p = vbtest.run("--data-dir", data, "compare", outs[1], "--against", against)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            self.assertIn("(--against " + against + ")", p.stdout)
            self.assertEqual(p.returncode == 1, "Verdict: REGRESSED (exit 1)" in p.stdout)
            self.assertEqual(len([r for r in rows(p.stdout) if r["metric"] == "events/s"]), 2)
        # The first run has nothing before it.
        p = vbtest.run("--data-dir", data, "compare", outs[0], "--against", "last", check=2)
        self.assertIn("no other complete run", p.stderr)
        p = vbtest.run("compare", outs[1], "--against", "last", "--db", os.path.join(self.tmp, "none.sqlite"), check=2)
        self.assertIn("no such database", p.stderr)

    def test_report_history_summarizes_each_host_with_its_own_native(self):
        """report --history: one row per host, platform, experiment and metric of a store two
        hosts wrote to; ×native divides by the same host's native mean, never another's."""
        import csv
        import io
        import json
        import statistics
        base = vbtest.load(os.path.join(RESULTS, "three-platforms"))
        db = os.path.join(self.tmp, "fleet.sqlite")
        expected = {}
        for k, (host, qemu_scale) in enumerate((("bench-1", 1.0), ("bench-2", 0.5))):
            doc = json.loads(json.dumps(base))
            doc["host"]["hostname"] = host
            doc["run_id"] = f"20261126T00351{k}-fleet{k}"
            doc["fixture_note"] = f"edited from three-platforms by test_report.py: {host}, qemu x {qemu_scale}"
            for run in doc["runs"]:
                if run["platform"] == "qemu" and "events_per_sec" in run.get("metrics", {}):
                    run["metrics"]["events_per_sec"] *= qemu_scale
            means = {}
            for platform in ("native", "qemu"):
                values = [r["metrics"]["events_per_sec"] for r in doc["runs"] if r["platform"] == platform and
                          r["experiment"] == "exp1-cpu-2000" and "warmup" not in r and "error" not in r]
                means[platform] = statistics.mean(values)
            expected[host] = means["qemu"] / means["native"]
            vbtest.run("history", "--db", db, "--add", vbtest.write_results(self.tmp, host, doc), check=0)
        out = os.path.join(self.tmp, "fleet-report")
        p = vbtest.run("report", "--history", "--db", db, "--experiment", "exp1-cpu-2000", out, check=0)
        md = read(os.path.join(out, "history-report.md"))
        self.assertEqual(p.stdout.strip(), os.path.join(out, "history-report.md"))
        self.assertIn("of 2 hosts from " + db, md)
        rows_md = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()
                   if line.startswith("| bench-")]
        self.assertEqual(sorted((r[0], r[1]) for r in rows_md),
                         [(h, p) for h in ("bench-1", "bench-2") for p in ("docker", "native", "qemu")])
        for r in rows_md:
            if r[1] == "qemu":
                self.assertAlmostEqual(float(r[6]), expected[r[0]], delta=0.0005, msg=r)
            if r[1] == "native":
                self.assertEqual(r[6], "", r)
        self.assertGreater(abs(expected["bench-1"] - expected["bench-2"]), 0.05)
        vbtest.run("report", "--history", "--db", db, "--experiment", "exp1-cpu-2000", "--format", "csv", out, check=0)
        table = list(csv.DictReader(io.StringIO(read(os.path.join(out, "history-report.csv")))))
        self.assertEqual(len(table), 6)
        q2 = next(r for r in table if r["host"] == "bench-2" and r["platform"] == "qemu")
        self.assertAlmostEqual(float(q2["x_native"]), expected["bench-2"], delta=0.0005)
        vbtest.run("report", "--history", "--db", db, "--host-name", "bench-1", "--format", "html", out, check=0)
        html = read(os.path.join(out, "history-report.html"))
        self.assertIn("<td>bench-1</td>", html)
        self.assertNotIn("bench-2", html)
        p = vbtest.run("report", "--history", "--db", db, "--suite", "no-such-suite", out, check=2)
        self.assertIn("no results in " + db + " match the filters", p.stderr)
        p = vbtest.run("report", "--suite", "quick", out, check=2)
        self.assertIn("--history", p.stderr)

    def make_history(self, shifted_from, count, factor):
        """A history db of `count` runs edited from native-a, a day apart: every headline value
        of a run × (1 ± 0.5%, seeded), and cpu events/s × `factor` from run `shifted_from` on.
        Returns the db's path and the run ids in time order."""
        import json
        import random
        rng = random.Random(5)
        base = vbtest.load(os.path.join(RESULTS, "native-a"))
        workloads = {e["name"]: e["workload"] for e in base["suite"]["experiments"]}
        db = os.path.join(self.tmp, f"history-{count}.sqlite")
        ids = []
        for k in range(count):
            doc = json.loads(json.dumps(base))
            doc["started_at"] = f"2026-12-{k + 1:02d}T00:35:13Z"
            doc["fixture_note"] = f"edited from native-a by test_report.py: run {k} of a synthetic history"
            noise = {name: 1 + rng.uniform(-0.005, 0.005) for name in workloads}
            for run in doc["runs"]:
                m = run.get("metrics", {})
                key = "events_per_sec" if workloads[run["experiment"]] == "cpu" else "reads_per_s"
                if key in m:
                    scale = noise[run["experiment"]] * (factor if key == "events_per_sec" and k >= shifted_from else 1)
                    m[key] = m[key] * scale
            out = os.path.join(self.tmp, f"h{count}-{k}")
            os.makedirs(out)
            with open(os.path.join(out, "results.json"), "w") as f:
                json.dump(doc, f)
            p = vbtest.run("history", "--db", db, "--add", out, check=0)
            ids.append(re.match(r"added (\S+) from", p.stdout)[1])
        return db, ids

    def test_history_changes_finds_a_step_where_it_starts(self):
        db, ids = self.make_history(shifted_from=8, count=16, factor=0.8)
        p = vbtest.run("history", "--db", db, "--changes", check=0)
        found = [l for l in p.stdout.splitlines() if l.startswith("2026-")]
        self.assertEqual(len(found), 2, p.stdout)  # the two cpu experiments' events/s, nothing in fileio
        for line, experiment in zip(found, ("exp1-cpu-2000", "exp2-cpu-20000")):
            self.assertIn(ids[8], line)
            self.assertIn(experiment, line)
            self.assertIn("events/s", line)
            self.assertIn("2026-12-09T00:35:13Z", line)  # the date of the first run of the new level
            self.assertIn("5114446-dirty", line)  # its virtbench version
            self.assertIn("worse", line)
            shift = re.search(r"\s([+-]\d+\.\d)%\s+([+-]\d+\.\d)% to ([+-]\d+\.\d)%\s+(0\.\d+)", line)
            self.assertIsNotNone(shift, line)
            self.assertAlmostEqual(float(shift[1]), -20.0, delta=1.0)
            self.assertLess(float(shift[2]), -20.0 + 1.0)
            self.assertGreater(float(shift[3]), -20.0 - 1.0)
            self.assertLess(float(shift[4]), 0.01)
        self.assertIn("4 series checked, 2 change points", p.stdout)
        self.assertNotIn("fewer than", p.stdout)
        # The filters narrow the series; --metric picks a non-headline metric (unchanged here).
        p = vbtest.run("history", "--db", db, "--changes", "--experiment", "exp2-cpu-20000", check=0)
        self.assertIn("1 series checked, 1 change point ", p.stdout)
        p = vbtest.run("history", "--db", db, "--changes", "--metric", "p95", "--platform", "native", check=0)
        self.assertIn("series checked, 0 change points", p.stdout)
        p = vbtest.run("history", "--db", db, "--changes", "--host-name", "vm", check=0)
        self.assertIn("4 series checked, 2 change points", p.stdout)
        p = vbtest.run("history", "--db", db, "--changes", "--host-name", "elsewhere", check=0)
        self.assertIn("no results in", p.stdout)
        # More runs needed on each side than the history has after the step: not checked.
        p = vbtest.run("history", "--db", db, "--changes", "--min-runs", "9", check=0)
        self.assertIn("4 series have fewer than 18 runs: not checked", p.stdout)
        vbtest.run("history", "--db", db, "--changes", "--add", os.path.join(RESULTS, "native-a"), check=2)

    def test_history_changes_on_a_flat_history_and_on_one_run(self):
        db, _ = self.make_history(shifted_from=99, count=8, factor=1)
        p = vbtest.run("history", "--db", db, "--changes", check=0)
        self.assertIn("4 series checked, 0 change points", p.stdout)
        db, _ = self.make_history(shifted_from=99, count=1, factor=1)
        p = vbtest.run("history", "--db", db, "--changes", check=0)
        self.assertIn("0 series checked, 0 change points", p.stdout)
        self.assertIn("4 series have fewer than 6 runs: not checked", p.stdout)
        self.assertEqual(p.stderr, "")

    def test_history_failure_is_a_warning_not_a_failed_run(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(os.path.join(data, "history.sqlite"))  # a directory where the database should be
        suite = os.path.join(self.tmp, "cpu-pair.toml")
        with open(suite, "w") as f:
            f.write(CPU_SUITE.replace("iterations = 3", "iterations = 1"))
        p = vbtest.run("--data-dir", data, "run", "--suite", suite, "--out", os.path.join(self.tmp, "o"), check=0)
        self.assertIn("warning: history not updated", p.stderr)


if __name__ == "__main__":
    vbtest.main()
