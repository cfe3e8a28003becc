"""The guest image: built files, manifest facts, the cache, and a real TCG boot answering the agent."""
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "guest-images")


class GuestImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = vbtest.run("image", "list", "--json")
        if p.returncode != 0:
            raise AssertionError("no guest image: tools/test.d/10-guest-image should have built it "
                                 "(run `virtbench image build` as root)\n" + p.stdout + p.stderr)
        cls.manifest = json.loads(p.stdout)
        cls.dir = cls.manifest["dir"]

    def test_files_and_manifest(self):
        for name in ("base.qcow2", "vmlinuz", "initrd.img", "rootfs.tar", "manifest.json"):
            self.assertTrue(os.path.isfile(os.path.join(self.dir, name)), name)
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", os.path.join(self.dir, "base.qcow2")],
                                         capture_output=True, text=True, check=True).stdout)
        self.assertEqual(info["format"], "qcow2")
        self.assertIn("sysbench", self.manifest["packages"])
        self.assertIn("qemu-guest-agent", self.manifest["packages"])
        self.assertEqual(len(self.manifest["recipe_hash"]), 64)

    def test_sysbench_in_rootfs_tar_is_the_one_the_manifest_names(self):
        with tarfile.open(os.path.join(self.dir, "rootfs.tar")) as tar:
            member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "usr/bin/sysbench")
            digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
        self.assertEqual(digest, self.manifest["sysbench_sha256"])

    def test_second_build_is_a_cache_hit(self):
        p = vbtest.run("image", "build", check=0, timeout=60)
        self.assertIn("up to date", p.stderr)

    def test_boots_under_tcg_and_the_agent_answers_then_shuts_down(self):
        p = subprocess.run([sys.executable, os.path.join(RECIPE, "boot-check.py"), self.dir],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = p.stdout + p.stderr
        seconds = float(out.split("first agent answer after ")[1].split(" s")[0])
        self.assertLess(seconds, 60)
        self.assertIn("guest says: sysbench 1.0", out)
        self.assertIn("guest powered off", out)


if __name__ == "__main__":
    vbtest.main()
