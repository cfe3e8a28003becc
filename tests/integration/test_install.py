"""meson install: the exact file list under --destdir, and where an installed, relocated,
lone or uninstalled binary finds the guest-image recipe (src/data_dir.cpp). Seconds."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

BUILD = os.path.dirname(vbtest.VIRTBENCH)


def meson_info(name):
    with open(os.path.join(BUILD, "meson-info", name)) as f:
        return json.load(f)


OPTIONS = {o["name"]: o["value"] for o in meson_info("intro-buildoptions.json")}
SOURCE = meson_info("meson-info.json")["directories"]["source"]
PREFIX = OPTIONS["prefix"]


def under_prefix(option, *rest):
    return os.path.join(PREFIX, OPTIONS[option], *rest)  # join keeps an absolute option as is


def recipe_row(binary, data_dir):
    p = subprocess.run([binary, "--data-dir", data_dir, "doctor", "--json"], capture_output=True, text=True, timeout=60)
    if p.returncode not in (0, 1):
        raise AssertionError(f"{binary} doctor: exit {p.returncode}\n{p.stderr}")
    rows = [c for c in json.loads(p.stdout)["checks"] if c["name"] == "image recipe"]
    if len(rows) != 1:
        raise AssertionError(f"{binary} doctor has {len(rows)} 'image recipe' rows:\n{p.stdout}")
    return rows[0]


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="virtbench-install-")
        cls.stage = os.path.join(cls.tmp, "stage")
        p = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", cls.stage],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"meson install --destdir {cls.stage}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        cls.root = cls.stage + PREFIX  # where the prefix landed under DESTDIR
        cls.data = os.path.join(cls.tmp, "data")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def staged(self, path):
        return self.stage + path

    def test_file_list(self):
        found = set()
        for d, _, files in os.walk(self.stage):
            found |= {os.path.join(d, f)[len(self.stage):] for f in files}
        recipe = under_prefix("datadir", "virtbench", "guest-images")
        tracked = subprocess.run(["git", "-C", SOURCE, "ls-files", "guest-images"], capture_output=True, text=True)
        names = [os.path.basename(f) for f in tracked.stdout.split()] if tracked.returncode == 0 else \
            [f for f in os.listdir(os.path.join(SOURCE, "guest-images")) if f != "__pycache__"]
        expected = {under_prefix("bindir", "virtbench"),
                    under_prefix("mandir", "man1", "virtbench.1"),
                    under_prefix("datadir", "bash-completion", "completions", "virtbench"),
                    under_prefix("datadir", "doc", "virtbench", "examples", "virtbench-nightly.service"),
                    under_prefix("datadir", "doc", "virtbench", "examples", "virtbench-nightly.timer")}
        expected |= {os.path.join(recipe, n) for n in names}
        self.assertEqual(sorted(found), sorted(expected))
        for script in ("build.sh", "init"):
            self.assertTrue(os.access(self.staged(os.path.join(recipe, script)), os.X_OK), script)

    def test_man_page_is_generated_from_every_command(self):
        with open(self.staged(under_prefix("mandir", "man1", "virtbench.1"))) as f:
            text = f.read()
        self.assertTrue(text.splitlines()[1].startswith(".TH VIRTBENCH 1 "), text[:200])
        for command in ("run", "calibrate", "exec", "suites", "image build", "image list", "doctor", "report",
                        "compare", "history"):
            self.assertIn(f'.SS "virtbench {command}', text.replace("\\-", "-"))
        self.assertIn("\\-\\-recipe", text)
        self.assertIn(under_prefix("datadir", "virtbench", "guest-images").replace("-", "\\-"), text)
        # Nothing of the build machine: the page is the same wherever it was built.
        for path in (SOURCE, BUILD):
            self.assertNotIn(path.replace("-", "\\-"), text)

    def test_bash_completion(self):
        script = self.staged(under_prefix("datadir", "bash-completion", "completions", "virtbench"))
        probe = f'''source {script}
at() {{ COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _virtbench; echo "${{COMPREPLY[*]}}"; }}
at virtbench ""; at virtbench run --suite ""; at virtbench suites ""; at virtbench image b
at virtbench compare --format ""; at virtbench --data-dir /tmp ima; at virtbench run --pl
at virtbench history --by ""; at virtbench compare --any'''
        p = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.split("\n")
        self.assertEqual(lines[0].split(), ["run", "calibrate", "exec", "suites", "image", "doctor", "report",
                                            "compare", "history"], p.stdout)
        self.assertEqual(lines[1:9], ["coen241-hw1 coen241-hw1-matrix quick", "coen241-hw1 coen241-hw1-matrix quick", "build", "text json junit", "image",
                                      "--platform", "host", "--any-host"], p.stdout)

    def test_installed_binary_finds_its_recipe_from_its_prefix(self):
        row = recipe_row(self.root + "/" + OPTIONS["bindir"] + "/virtbench", self.data)
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual(row["detail"], self.staged(under_prefix("datadir", "virtbench", "guest-images")))

    def test_relocated_prefix(self):
        moved = os.path.join(self.tmp, "moved", "opt")
        shutil.copytree(self.root, moved, symlinks=True)
        row = recipe_row(os.path.join(moved, OPTIONS["bindir"], "virtbench"), self.data)
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual(row["detail"], os.path.join(moved, OPTIONS["datadir"], "virtbench", "guest-images"))

    def test_binary_without_its_data_says_where_it_looked(self):
        lone = os.path.join(self.tmp, "lone", OPTIONS["bindir"])
        os.makedirs(lone)
        shutil.copy(vbtest.VIRTBENCH, lone)
        binary = os.path.join(lone, "virtbench")
        looked = os.path.join(self.tmp, "lone", OPTIONS["datadir"], "virtbench", "guest-images")
        row = recipe_row(binary, self.data)
        self.assertEqual(row["status"], "warn", row)
        self.assertIn(looked, row["detail"])
        self.assertIn("--recipe", row["detail"] + row.get("fix", ""))
        p = subprocess.run([binary, "--data-dir", self.data, "image", "build"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(looked, p.stderr)
        self.assertIn("--recipe", p.stderr)

    def test_build_directory_binary_uses_the_source_tree(self):
        row = recipe_row(vbtest.VIRTBENCH, self.data)
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual(row["detail"], os.path.join(SOURCE, "guest-images"))


if __name__ == "__main__":
    vbtest.main()
