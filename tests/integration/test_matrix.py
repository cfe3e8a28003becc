"""The configuration matrix end to end, on real QEMU (TCG here) and a real dockerd: a 2 × 2
qemu matrix (vcpus 1,2 × scratch-format raw,qcow2) from the suite file, docker cpus 1,2 from
--matrix, and native, 2 iterations of the quick suite's first shape (cpu, 1 s), at most 3 VMs
and containers up at once (so two batches, each with native). Kept cheap for tools/test: four
TCG boots and their exec-channel measurements are most of its ~95 s; a fileio experiment would
add about 15 s more (the batches' fileio handling is tested on fakes in test_matrix.cpp, the
scratch disk formats by the variants' recorded facts here). Checks the 7 platform entries
and their parameters, rounds that cover each batch, the live count (watched from outside,
on the processes and the engine, while the run goes on), the matrix table and per-axis
charts in report.md and report.html, compare of the run with itself, bad axes refused with
exit 2 before anything starts, and nothing left behind.

Needs the guest image, QEMU, dockerd and root (tools/test.d prepares them); fails loudly
otherwise, never skips."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402
from test_docker import TestEngine  # noqa: E402  (a dockerd of this test's own)

DATA_DIR = os.environ.get("VIRTBENCH_DATA_DIR", "/var/lib/virtbench" if os.geteuid() == 0
                          else os.path.expanduser("~/.local/share/virtbench"))

# The quick suite's first shape at the shortest time a suite allows.
SUITE = """name = "matrix-test"
iterations = 2

[matrix]
qemu = { vcpus = [1, 2], scratch-format = ["raw", "qcow2"] }

[[experiment]]
name = "cpu"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0

"""

QEMU_VARIANTS = ["qemu[vcpus=1,scratch-format=raw]", "qemu[vcpus=1,scratch-format=qcow2]",
                 "qemu[vcpus=2,scratch-format=raw]", "qemu[vcpus=2,scratch-format=qcow2]"]
DOCKER_VARIANTS = ["docker[cpus=1]", "docker[cpus=2]"]
MAX_LIVE = 3

ENGINE = None


def setUpModule():
    global ENGINE
    if not os.path.isfile(os.path.join(DATA_DIR, "image", "base.qcow2")):
        raise AssertionError(f"the guest image is missing in {DATA_DIR}/image: build it with `virtbench image build` "
                             "(tools/test runs tools/test.d/ first)")
    if shutil.which("qemu-system-x86_64") is None:
        raise AssertionError("qemu-system-x86_64 is not installed: run tools/setup")
    ENGINE = TestEngine()
    ENGINE.start()


def tearDownModule():
    if ENGINE:
        ENGINE.stop()
        shutil.rmtree(ENGINE.dir, ignore_errors=True)


class LiveWatch(threading.Thread):
    """Counts, every 0.1 s, the QEMU processes of this test's runtime dir and the running
    containers of this test's engine; keeps the largest total seen."""

    def __init__(self, runtime):
        super().__init__(daemon=True)
        self.runtime = runtime
        self.most = 0
        self.samples = 0
        self.seen_vms = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            vms = len(vbtest.pgrep("qemu-system-x86_64.*" + self.runtime.replace(".", "\\.")))
            try:
                containers = [c for c in ENGINE.labelled_containers() if c.get("State") in ("running", "paused")]
            except (OSError, AssertionError):
                containers = []
            self.most = max(self.most, vms + len(containers))
            self.seen_vms = max(self.seen_vms, vms)
            self.samples += 1
            time.sleep(0.1)


class MatrixRun(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.out = os.path.join(self.tmp, "out")
        self.runtime = os.path.join(self.tmp, "rt")
        os.makedirs(self.runtime, mode=0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)
        self.suite = os.path.join(self.tmp, "matrix.toml")
        with open(self.suite, "w") as f:
            f.write(SUITE)

    def tearDown(self):
        for pid in vbtest.pgrep("qemu-system-x86_64.*" + self.runtime.replace(".", "\\.")):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def args(self, *extra):
        a = ["run", "--suite", self.suite, "--seed", "5", "--platform", "native,qemu,docker",
             "--docker-host", ENGINE.host()]
        if "VIRTBENCH_DATA_DIR" in os.environ:
            a = ["--data-dir", DATA_DIR] + a
        return a + list(extra)

    def test_bad_axes_are_refused_before_anything_starts(self):
        p = vbtest.run(*self.args("--matrix", "qemu.cpus=1,2", "--out", self.out), env=self.env, check=2)
        self.assertIn("--matrix unknown axis \"cpus\" of platform qemu; allowed axes of qemu: vcpus (1 to 256)",
                      p.stderr)
        p = vbtest.run(*self.args("--matrix", "docker.cpus=1,64", "--out", self.out), env=self.env, check=2)
        self.assertIn("docker[cpus=64]: docker: 64 CPUs for a container on a host with", p.stderr)
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write(SUITE.replace('scratch-format = ["raw", "qcow2"]', 'scratch-format = ["raw", "vmdk"]'))
        p = vbtest.run("run", "--suite", bad, "--platform", "native,qemu", "--out", self.out, env=self.env, check=2)
        self.assertIn(f"{bad}:5: [matrix] qemu.scratch-format = vmdk: must be one of raw, qcow2", p.stderr)
        p = vbtest.run(*self.args("--matrix", "qemu.memory=1G,4096G", "--out", self.out), env=self.env, check=2)
        self.assertIn("--matrix memory = 4096G: must be from 128 to 1048576 MiB (platform qemu)", p.stderr)
        # More memory than this host has: the preflight, one line per variant that cannot exist.
        p = vbtest.run(*self.args("--matrix", "qemu.memory=1G,1024G", "--out", self.out), env=self.env, check=2)
        too_big = [line for line in p.stderr.splitlines() if "memory 1.0 TiB does not fit this host's" in line]
        self.assertEqual(len(too_big), 4, p.stderr)  # vcpus 1,2 × raw,qcow2 at 1024G
        self.assertFalse(os.path.exists(os.path.join(self.out, "results.json")))

    def test_two_by_two_qemu_docker_and_native_in_batches(self):
        watch = LiveWatch(self.runtime)
        watch.start()
        started = time.monotonic()
        p = vbtest.run(*self.args("--matrix", "docker.cpus=1,2", "--max-live", str(MAX_LIVE), "--out", self.out),
                       env=self.env, timeout=600)
        elapsed = time.monotonic() - started
        watch.stop.set()
        watch.join()
        self.assertEqual(p.returncode, 0, p.stderr[-6000:])
        print(f"\nmatrix run: {elapsed:.0f} s; at most {watch.most} VMs and containers up "
              f"({watch.samples} samples)", file=sys.stderr)
        r = vbtest.load(self.out)

        # 7 platform entries, the variants with their driver and parameters.
        names = [x["name"] for x in r["platforms"]]
        self.assertEqual(sorted(names), sorted(["native"] + QEMU_VARIANTS + DOCKER_VARIANTS))
        by_name = {x["name"]: x for x in r["platforms"]}
        for name in QEMU_VARIANTS:
            entry = by_name[name]
            self.assertEqual(entry["platform"], "qemu")
            vcpus, fmt = name[len("qemu[vcpus="):-1].split(",scratch-format=")
            self.assertEqual(entry["variant"], {"vcpus": vcpus, "scratch-format": fmt})
            self.assertEqual(entry["vcpus"], int(vcpus))           # the VM really got them
            self.assertEqual(entry["scratch_format"], fmt)
        for name in DOCKER_VARIANTS:
            entry = by_name[name]
            self.assertEqual(entry["platform"], "docker")
            self.assertEqual(entry["variant"], {"cpus": name[-2]})
            self.assertEqual(entry["nano_cpus"], int(name[-2]) * 10**9)
        self.assertTrue(by_name["qemu[vcpus=2,scratch-format=raw]"].get("default_variant"))
        self.assertTrue(by_name["docker[cpus=2]"].get("default_variant"))
        self.assertNotIn("variant", by_name["native"])

        # Batches of at most MAX_LIVE VMs and containers, each interleaved with native.
        batches = r["batches"]
        self.assertEqual(len(batches), 2)
        for b in batches:
            self.assertIn("native", b["platforms"])
            self.assertLessEqual(len(b["platforms"]) - 1, MAX_LIVE)
        self.assertEqual(r["max_live"]["value"], MAX_LIVE)
        self.assertLessEqual(watch.most, MAX_LIVE, "more VMs and containers up at once than --max-live")
        self.assertGreater(watch.seen_vms, 0, "the watch never saw a VM: it watched the wrong thing")

        # Every round of a batch covers all of its platforms; together the batches cover all 7.
        rounds = {}
        for run in r["runs"]:
            self.assertNotIn("error", run, p.stderr[-4000:])
            rounds.setdefault((run["batch"], run["experiment"], run["round"]), set()).add(run["platform"])
        covered = set()
        for (batch, exp, rnd), platforms in rounds.items():
            self.assertEqual(platforms, set(batches[batch - 1]["platforms"]), (batch, exp, rnd))
            covered |= platforms
        self.assertEqual(covered, set(names))
        counts = {}
        for run in r["runs"]:
            counts[run["platform"]] = counts.get(run["platform"], 0) + 1
        self.assertEqual(counts["native"], 2 * 2)  # 2 iterations × 2 batches
        for name in QEMU_VARIANTS + DOCKER_VARIANTS:
            self.assertEqual(counts[name], 2, name)

        # The matrix table and the per-axis charts.
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        self.assertIn("### Matrix: cpu", md)
        self.assertIn("| qemu[vcpus=1,scratch-format=qcow2] | qemu | 1 | qcow2 | – | 2 |", md)
        self.assertIn("| docker[cpus=1] | docker | – | – | 1 | 2 |", md)
        self.assertIn("× default (95% CI)", md)
        self.assertIn("the variants ran in 2 batches", md)
        with open(os.path.join(self.out, "report.html")) as f:
            html = f.read()
        self.assertIn("Matrix: cpu", html)
        for axis, driver in (("vcpus", "qemu"), ("scratch-format", "qemu"), ("cpus", "docker")):
            self.assertIn(f"cpu: events/s against {axis} ({driver})", html, "no chart of the axis")
        self.assertNotIn("chart could not be drawn", html)
        with open(os.path.join(self.out, "report.csv")) as f:
            header = f.readline().strip()
        self.assertTrue(header.endswith(",batch,driver,param_vcpus,param_scratch-format,param_cpus"), header)

        # compare of the run with itself: matched variant by variant, nothing regressed.
        c = vbtest.run("compare", self.out, self.out, env=self.env)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertIn("qemu[scratch-format=qcow2,vcpus=1]", c.stdout)

        # Nothing left: no QEMU, no container of the run.
        self.assertEqual(vbtest.pgrep("qemu-system-x86_64.*" + self.runtime.replace(".", "\\.")), [])
        self.assertEqual([c for c in ENGINE.labelled_containers()], [])


if __name__ == "__main__":
    vbtest.main()
