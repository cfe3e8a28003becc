"""compare end to end: verdicts under the noise model, exit codes, the history as the noise
model and as the base, JUnit validated against the schema CI tools read, and bad input."""
import copy
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

DATA = os.environ.get("VIRTBENCH_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "data")
RESULTS = os.path.join(DATA, "results")
SCHEMA = os.path.join(DATA, "junit", "junit-10.xsd")


def scaled(doc, factor, platform=None, started_at=None):
    """Every throughput of `platform` (all when None) x factor, every latency / factor."""
    doc = copy.deepcopy(doc)
    for r in doc["runs"]:
        if platform and r["platform"] != platform or "metrics" not in r:
            continue
        m = r["metrics"]
        for k in list(m):
            if k.endswith(("_per_sec", "_per_s", "_mib_s")):
                m[k] *= factor
        for k in m.get("latency_ms", {}):
            if k != "sum":
                m["latency_ms"][k] /= factor
    if started_at:
        doc["started_at"] = started_at
    return doc


class Compare(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.empty_data = os.path.join(self.tmp, "no-history")  # a data dir without history.sqlite

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, doc):
        return vbtest.write_results(self.tmp, name, doc)

    def compare(self, *args, check=None):
        return vbtest.run("--data-dir", self.empty_data, "compare", *args, check=check)

    def history(self, base, factors):
        """A history db of runs of `base`'s suite, the host drifting by `factors`."""
        db = os.path.join(self.tmp, "history.sqlite")
        args = ["history", "--db", db]
        for i, f in enumerate(factors):
            args += ["--add", self.write(f"hist-{i}", scaled(base, f, started_at=f"2026-11-20T00:00:{10 + i}Z"))]
        vbtest.run(*args, check=0)
        return db

    def verdicts(self, out, metric="metrics.events_per_sec", platform="native"):
        return {m["experiment"]: m["verdict"] for m in json.loads(out)["metrics"]
                if m["metric"] == metric and m["platform"] == platform}

    def test_native_without_history_is_noise_unknown_not_a_guess(self):
        a = os.path.join(RESULTS, "native-a")
        slower = os.path.join(RESULTS, "native-a-cpu-20pct-slower")
        p = self.compare(a, slower, check=0)
        self.assertIn("noise unknown", p.stdout)
        self.assertIn("virtbench calibrate", p.stdout)
        self.assertIn("some undecided (exit 0; 1 with --fail-on-undecided)", p.stdout)
        self.compare(a, slower, "--fail-on-undecided", check=1)
        # The old model, on purpose: iterations only.
        p = self.compare(a, slower, "--noise", "iterations", "--format", "json", check=1)
        j = json.loads(p.stdout)
        self.assertTrue(j["regressed"])
        self.assertEqual(j["correction"], "holm")
        self.assertEqual(self.verdicts(p.stdout)["exp2-cpu-20000"], "regressed")
        reg = [m for m in j["metrics"] if m["verdict"] == "regressed"]
        for m in reg:
            self.assertAlmostEqual(m["change_pct"], -20.0, delta=0.01)
            self.assertLess(m["p_adjusted"], 0.01)
            self.assertGreaterEqual(m["p_adjusted"], m["p"])
            self.assertLess(m["change_ci_high_pct"], 0)
        self.compare(a, slower, "--noise", "iterations", "--max-regression", "25", check=0)

    def test_virtualized_platforms_compare_on_their_ratio_to_native(self):
        base_dir = os.path.join(RESULTS, "three-platforms")
        base = vbtest.load(base_dir)
        # The whole host 10% slower: no regression on docker or qemu (their ratio to native held).
        p = self.compare(base_dir, self.write("host-slow", scaled(base, 0.9, started_at="2026-11-27T00:00:00Z")),
                         "--format", "json", check=0)
        j = json.loads(p.stdout)
        for plat in ("docker", "qemu"):
            for m in j["metrics"]:
                if m["platform"] == plat and m["metric"] == "metrics.events_per_sec":
                    self.assertEqual(m["basis"], "ratio to native")
                    self.assertAlmostEqual(m["change_pct"], 0, delta=1e-6)
                    self.assertNotEqual(m["verdict"], "regressed")
        # qemu alone 20% slower: regressed where its iterations are steady (exp2), exit 1.
        p = self.compare(base_dir, self.write("qemu-slow", scaled(base, 0.8, "qemu", "2026-11-27T00:00:01Z")),
                         "--format", "json", check=1)
        self.assertEqual(self.verdicts(p.stdout, platform="qemu")["exp2-cpu-20000"], "regressed")

    def test_history_is_the_noise_model_and_can_be_the_base(self):
        a = vbtest.load(os.path.join(RESULTS, "native-a"))
        db = self.history(a, [0.97, 1.0, 1.03, 0.985, 1.015])
        base = self.write("base", scaled(a, 1.0, started_at="2026-11-21T00:00:00Z"))
        slow = self.write("slow", scaled(a, 0.7, started_at="2026-11-21T00:00:01Z"))
        same = self.write("same", scaled(a, 0.99, started_at="2026-11-21T00:00:02Z"))
        p = self.compare(base, slow, "--db", db, "--format", "json", check=1)
        rows = [m for m in json.loads(p.stdout)["metrics"] if m["metric"] == "metrics.events_per_sec"]
        self.assertTrue(all(m["noise"] == "history (5 runs)" for m in rows), rows)
        self.assertEqual(json.loads(p.stdout)["lookback_runs"], 5)
        self.compare(base, same, "--db", db, check=0)
        # --against history: the candidate against the five runs' distribution.
        p = self.compare(slow, "--against", "history", "--db", db, check=1)
        self.assertIn("5 earlier runs", p.stdout)
        p = self.compare(same, "--against", "history", "--db", db, check=0)
        # Too little history: a clear error that says how to get more.
        small = os.path.join(self.tmp, "small.sqlite")
        vbtest.run("history", "--db", small, "--add", os.path.join(RESULTS, "native-b"), check=0)
        p = self.compare(same, "--against", "history", "--db", small, check=2)
        self.assertIn("virtbench calibrate", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_junit_validates_against_the_jenkins_schema(self):
        self.assertTrue(shutil.which("xmllint"), "xmllint missing: tools/setup installs libxml2-utils")
        a = os.path.join(RESULTS, "native-a")
        slower = os.path.join(RESULTS, "native-a-cpu-20pct-slower")
        for args, code in (([a, slower, "--noise", "iterations"], 1), ([a, os.path.join(RESULTS, "native-b")], 0)):
            p = self.compare(*args, "--format", "junit", check=code)
            xml = os.path.join(self.tmp, "compare.xml")
            with open(xml, "w") as f:
                f.write(p.stdout)
            v = subprocess.run(["xmllint", "--noout", "--schema", SCHEMA, xml], stderr=subprocess.PIPE, text=True)
            self.assertEqual(v.returncode, 0, v.stderr)
            j = json.loads(self.compare(*args, "--format", "json", check=code).stdout)
            regressed = sum(m["verdict"] == "regressed" for m in j["metrics"])
            undecided = sum(m["verdict"] in ("undecided: run more", "noise unknown", "insufficient data")
                            for m in j["metrics"] if m["performance"])
            self.assertEqual(p.stdout.count("<failure "), regressed)
            self.assertEqual(p.stdout.count("<skipped "), undecided)
            self.assertEqual(p.stdout.count("<testcase "), sum(m["performance"] for m in j["metrics"]))

    def test_bad_numbers_in_results_are_a_clear_error(self):
        a = os.path.join(RESULTS, "native-a")
        text = open(os.path.join(a, "results.json")).read()
        bad = os.path.join(self.tmp, "nan")
        os.makedirs(bad)
        with open(os.path.join(bad, "results.json"), "w") as f:
            f.write(text.replace('"events_per_sec": ', '"events_per_sec": NaN, "x": ', 1))
        p = self.compare(a, bad, check=2)
        self.assertIn(os.path.join(bad, "results.json"), p.stderr)
        # A value that is not a number is left out of the statistics, not trusted.
        doc = vbtest.load(a)
        doc["runs"][3]["metrics"]["events_per_sec"] = "fast"
        p = self.compare(a, self.write("string", doc), "--noise", "iterations", check=None)
        self.assertIn(p.returncode, (0, 1), p.stderr)


if __name__ == "__main__":
    vbtest.main()
