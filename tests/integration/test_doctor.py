"""virtbench doctor: every check has a status, a fix when it is not ok, and the KVM verdict matches the host."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402


class Doctor(unittest.TestCase):
    def test_json_rows_and_fixes(self):
        p = vbtest.run("doctor", "--json")
        doc = json.loads(p.stdout)
        self.assertEqual(p.returncode, 0 if doc["ok"] else 1)
        names = [c["name"] for c in doc["checks"]]
        for name in ("root", "sysbench", "qemu", "kvm", "accelerator", "docker", "guest image", "free disk"):
            self.assertIn(name, names)
        for c in doc["checks"]:
            self.assertIn(c["status"], ("ok", "warn", "fail"))
            if c["status"] != "ok":
                self.assertTrue(c.get("fix"), c)

    def test_kvm_verdict_matches_the_host(self):
        checks = {c["name"]: c for c in json.loads(vbtest.run("doctor", "--json").stdout)["checks"]}
        flags = " ".join(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
        hardware = "vmx" in flags or "svm" in flags
        pvm = os.path.exists("/sys/module/kvm_pvm")
        if pvm or not hardware or not os.path.exists("/dev/kvm"):
            self.assertEqual(checks["kvm"]["status"], "warn")
            self.assertIn("--accel auto will use tcg", checks["accelerator"]["detail"])
            if pvm:
                self.assertIn("PVM-only", checks["kvm"]["detail"])
        else:
            self.assertEqual(checks["kvm"]["status"], "ok")
            self.assertIn("--accel auto will use kvm", checks["accelerator"]["detail"])

    def test_text_output_names_each_fix(self):
        # A DOCKER_HOST virtbench refuses makes at least the docker row fail, so there is a
        # row without "ok" to judge whatever the host.
        env = dict(os.environ, DOCKER_HOST="tcp://127.0.0.1:2375")
        text = vbtest.run("doctor", env=env).stdout
        checks = json.loads(vbtest.run("doctor", "--json", env=env).stdout)["checks"]
        # A row is its status line ("<status> <name> <detail>") and the indented lines under it.
        names = sorted((c["name"] for c in checks), key=len, reverse=True)
        rows = {}
        for line in text.splitlines():
            if line and not line[0].isspace():
                status, rest = line[:5].strip(), line[6:]
                name = next((n for n in names if rest.startswith(n + " ")), rest)
                rows[name] = {"status": status, "text": line}
            elif rows and line.strip():
                rows[name]["text"] += "\n" + line
        self.assertEqual(sorted(rows), sorted(c["name"] for c in checks), text)
        self.assertEqual(rows["docker"]["status"], "FAIL", text)
        for c in checks:
            row = rows[c["name"]]
            self.assertEqual(row["status"], {"ok": "ok", "warn": "WARN", "fail": "FAIL"}[c["status"]], row["text"])
            if c["status"] == "ok":
                self.assertNotIn("fix:", row["text"])
            else:
                self.assertIn("fix: " + c["fix"], row["text"])


if __name__ == "__main__":
    vbtest.main()
