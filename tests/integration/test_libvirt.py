"""The libvirt platform end to end against the local libvirtd (tools/test.d/20-libvirtd starts
it): the quick suite next to native, leftovers of a crashed run, Ctrl-C, a libvirtd that does
not answer, doctor on a /dev/kvm that makes libvirtd re-probe QEMU, and `image push` with the
pool storage a remote host uses."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

URI = "qemu:///system"
EXPERIMENTS = ["exp1-cpu-2000", "exp2-cpu-20000", "exp3-fileio-rndrw", "exp4-fileio-rndrw-async"]


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def virtbench_domains():
    return [n for n in virsh("list", "--all", "--name").stdout.split() if n.startswith("virtbench-")]


def pool_volumes():
    p = virsh("vol-list", "virtbench", check=False)
    return [line.split()[0] for line in p.stdout.splitlines()[2:] if line.strip()]


def doctor_row():
    p = vbtest.run("doctor", "--json")
    return next(c for c in json.loads(p.stdout)["checks"] if c["name"] == "libvirt")


def seconds(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def tiny_suite(directory, iterations):
    """cpu then fileio, 1 s each, no warm-up: a VM test's runs come seconds after its boot."""
    path = os.path.join(directory, "tiny.toml")
    with open(path, "w") as f:
        f.write(f'name = "tiny"\niterations = {iterations}\n[[experiment]]\nname = "cpu"\nworkload = "cpu"\n'
                'cpu-max-prime = 2000\ntime = 1\nwarmup = 0\n[[experiment]]\nname = "io"\nworkload = "fileio"\n'
                'file-total-size = "16M"\nfile-test-mode = "rndrw"\ntime = 1\nwarmup = 0\n')
    return path


def console_tail(out):
    """The guest console's last lines, for failure messages."""
    try:
        with open(os.path.join(out, "raw", "libvirt", "console.log"), errors="replace") as f:
            return "\n--- guest console (tail)\n" + f.read()[-3000:]
    except OSError:
        return "\n(no guest console log)"


class LibvirtPlatform(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("libvirtd does not answer on qemu:///system (tools/test.d/20-libvirtd starts it): "
                                 + p.stderr)

    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.assertEqual(virtbench_domains(), [], "a virtbench domain is running before the test")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        leftovers = virtbench_domains()
        for name in leftovers:
            virsh("destroy", name, check=False)
        self.assertEqual(leftovers, [], "virtbench domains survived the test")

    def leftover_domain(self, name):
        """A domain named like a crashed run's (no disks: the firmware idles), owned by a dead pid."""
        xml = f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <metadata><virtbench:owner xmlns:virtbench='https://virtbench.invalid/libvirt/1'>{os.uname().nodename} 999999999</virtbench:owner></metadata>
  <os><type arch='x86_64'>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""
        path = os.path.join(self.tmp, "leftover.xml")
        with open(path, "w") as f:
            f.write(xml)
        virsh("create", path)

    def test_quick_suite_next_to_native_with_cpu_splits_and_no_domain_left(self):
        self.leftover_domain("virtbench-leftover-of-a-crash")
        out = os.path.join(self.tmp, "out")
        p = vbtest.run("run", "--suite", "quick", "--platform", "native,libvirt", "--iterations", "1", "--time", "2",
                       "--out", out, "--libvirt-uri", URI)
        self.assertEqual(p.returncode, 0, p.stderr + console_tail(out))
        self.assertIn("removed domain virtbench-leftover-of-a-crash left by an earlier run", p.stderr)
        self.assertIn("guest agent answered", p.stderr)
        r = vbtest.load(out)
        lv = next(x for x in r["platforms"] if x["name"] == "libvirt")
        self.assertEqual(lv["uri"], URI)
        self.assertEqual(lv["host"], os.uname().nodename)
        self.assertEqual(lv["domain_type"], "qemu")  # TCG here: KVM is PVM-only
        self.assertEqual(lv["accel"], "tcg")
        self.assertIn("PVM", lv["accel_reason"])
        self.assertTrue(lv["machine"].startswith("pc-q35-"), lv["machine"])
        self.assertEqual(lv["cpu_model"], "max")
        self.assertEqual(lv["hypervisor"], "QEMU")
        for key in ("libvirt_version", "hypervisor_version", "image_digest", "sysbench_sha256", "fileio_storage",
                    "cache_mode", "vcpus", "memory_bytes", "aio"):
            self.assertTrue(lv[key], key)
        self.assertGreater(lv["boot_to_ready_s"], 0.5)
        # The boot timeline from the console, as the qemu platform records it, on libvirt's clock.
        timeline = lv.get("boot_timeline") or []
        steps = [s["step"] for s in timeline]
        self.assertEqual((steps[:1], steps[-2:]), (["kernel started"], ["agent started", "agent answered"]), timeline)
        self.assertIn("init started", steps)
        self.assertAlmostEqual(timeline[-1]["since_qemu_start_s"], lv["boot_to_ready_s"], delta=0.01)
        self.assertIn("-bios /usr/share/qemu/qboot.rom", lv["qemu_command"])  # as the qemu platform boots q35
        self.assertNotIn("pcie-root-port", lv["qemu_command"])
        self.assertIn("qemu-system-x86_64", lv["qemu_command"])
        self.assertNotIn("-netdev", lv["qemu_command"])
        for platform in ("native", "libvirt"):
            runs = [x for x in r["runs"] if x["platform"] == platform and "warmup" not in x]
            self.assertEqual(sorted(x["experiment"] for x in runs), EXPERIMENTS, platform)
            for run in runs:
                self.assertEqual(run["exit_code"], 0, run)
                self.assertNotIn("error", run)
                m = run["metrics"]
                if "cpu" in run["experiment"]:
                    self.assertGreater(m["events_per_sec"], 0)
                else:
                    self.assertGreater(m["reads_per_s"] + m["writes_per_s"], 0)
                cpu = run["cpu"]
                self.assertGreater(cpu["host"]["user_pct"] + cpu["host"]["kernel_pct"], 5, run)
                if platform == "libvirt":
                    self.assertGreater(cpu["guest"]["user_pct"] + cpu["guest"]["kernel_pct"], 5, run)
                    # Host-side CPU of the domain's cgroup (virDomainGetCPUStats).
                    pp = cpu["platform_process"]
                    self.assertGreater(pp["user_s"] + pp["kernel_s"], 0.5, run)
                    if "fileio" in run["experiment"]:
                        self.assertEqual(run["cache_drops"][0]["where"], "guest")
        with open(os.path.join(out, "raw", "libvirt", "console.log"), errors="replace") as f:
            self.assertIn("virtbench-init: agent on", f.read())
        with open(os.path.join(out, "raw", "libvirt", "domain.xml")) as f:
            self.assertIn("<name>" + lv["domain_name"] + "</name>", f.read())
        self.assertEqual(virtbench_domains(), [])

    def test_a_hung_guest_is_lost_and_its_domain_destroyed_after_the_agent_timeout(self):
        """The domain's QEMU sent SIGSTOP in the middle of a workload: libvirtd would wait for
        its monitor for ever; the agent call times out (--agent-timeout 5; the default 30 s
        gives the issue's 40 s), query-status through libvirt gets 2 s under a watchdog, then
        QEMU is killed and the domain destroyed."""
        out = os.path.join(self.tmp, "out")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", tiny_suite(self.tmp, 4), "--platform", "libvirt",
                                 "--agent-timeout", "5", "--out", out], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 2, 180, "two finished iterations")
            pids = vbtest.pgrep("qemu-system-x86_64.*guest=virtbench-")
            self.assertEqual(len(pids), 1, pids)
            os.kill(pids[0], signal.SIGSTOP)
            t0 = time.monotonic()
            vbtest.wait_for(lambda: not os.path.exists(f"/proc/{pids[0]}") or
                            open(f"/proc/{pids[0]}/stat").read().split()[2] == "Z", 60, "the stopped QEMU to be killed")
            killed_after = time.monotonic() - t0
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        print(f"\nSIGSTOP of the domain's QEMU to its kill: {killed_after:.1f} s", file=sys.stderr)
        self.assertLessEqual(killed_after, 5 + 2 + 8, err)
        self.assertEqual(proc.returncode, 1, err)
        lv = next(x for x in vbtest.load(out)["platforms"] if x["name"] == "libvirt")
        self.assertIn("did not answer within 2 s either; the domain was destroyed", lv["error"])
        self.assertEqual(virtbench_domains(), [])

    def test_a_libvirtd_that_does_not_answer_is_named_with_the_fix(self):
        out = os.path.join(self.tmp, "out")
        uri = "qemu:///system?socket=/nonexistent/libvirt-sock"
        p = vbtest.run("run", "--suite", "quick", "--platform", "libvirt", "--iterations", "1", "--time", "1",
                       "--out", out, "--libvirt-uri", uri)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("connect to libvirt at " + uri, p.stderr)
        self.assertIn("libvirtd -d", p.stderr)

    def test_doctor_says_libvirtd_answers_and_which_domain_type_it_would_use(self):
        row = doctor_row()
        # ok also says libvirtd keeps its QEMU capabilities: tools/test.d/20-libvirtd gave /dev/kvm
        # the group and mode udev would have.
        self.assertEqual(row["status"], "ok", row)
        self.assertIn("qemu:///system answers on " + os.uname().nodename, row["detail"])
        self.assertIn("domain type qemu (auto: KVM not usable: libvirt offers kvm, but", row["detail"])

    def test_doctor_names_a_dev_kvm_that_makes_libvirtd_reprobe_and_libvirtd_recovers_without_restart(self):
        # This host's /dev/kvm (PVM KVM) as the kernel makes it when no udev rule runs: root:root 0600.
        # libvirtd's probe (CAP_DAC_OVERRIDE) finds KVM, its check as libvirt-qemu does not.
        self.assertTrue(os.path.exists("/dev/kvm"), "this test needs the build machines' /dev/kvm (PVM KVM)")
        st = os.stat("/dev/kvm")
        try:
            os.chown("/dev/kvm", 0, 0)
            os.chmod("/dev/kvm", 0o600)
            row = doctor_row()
            self.assertEqual(row["status"], "warn", row)
            self.assertIn("libvirtd probes QEMU again on every capabilities lookup", row["detail"])
            self.assertIn("/dev/kvm (root:root 0600) is not read/writable by qemu.conf's user libvirt-qemu",
                          row["detail"])
            self.assertTrue(row["fix"].startswith("chgrp kvm /dev/kvm && chmod 0660 /dev/kvm"), row)
            self.assertGreater(seconds(lambda: virsh("domcapabilities", "--virttype", "kvm")), 2,
                               "a capabilities lookup did not probe QEMU: the condition was not reproduced")
        finally:
            os.chown("/dev/kvm", st.st_uid, st.st_gid)
            os.chmod("/dev/kvm", stat.S_IMODE(st.st_mode))
        self.assertEqual(doctor_row()["status"], "ok")
        # libvirtd sees /dev/kvm's new ctime and keeps its capabilities again, without a restart.
        for _ in range(2):
            self.assertLess(seconds(lambda: virsh("domcapabilities", "--virttype", "kvm")), 2,
                            "libvirtd still probes QEMU on every capabilities lookup")

    def test_image_push_then_ctrl_c_in_a_run_from_the_pool_destroys_the_domain_and_its_volumes(self):
        """The pool storage a remote host uses (image push, then a run whose disks are pool
        volumes), interrupted with Ctrl-C in the middle: exit 130, finished iterations kept,
        the console log fetched from the pool, no domain and no run volume left."""
        before = set(pool_volumes())
        p = vbtest.run("image", "push", "--libvirt-uri", URI, check=0)
        manifest = json.loads(vbtest.run("image", "list", "--json", check=0).stdout)
        prefix = manifest["recipe_hash"][:12] + "-"
        pushed = [prefix + "base.qcow2", prefix + "vmlinuz", prefix + "initrd.img"]
        try:
            self.assertTrue(set(pushed) <= set(pool_volumes()), pool_volumes())
            p = vbtest.run("image", "push", "--libvirt-uri", URI, check=0)
            self.assertEqual(p.stdout.count("already in pool virtbench"), 3, p.stdout)
            out = os.path.join(self.tmp, "out")
            env = dict(os.environ, VIRTBENCH_LIBVIRT_POOL_STORAGE="1")
            proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", tiny_suite(self.tmp, 3), "--platform",
                                     "libvirt", "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
            try:
                vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 2, 180, "two finished iterations")
                self.assertEqual(len(virtbench_domains()), 1)
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            self.assertEqual(proc.returncode, 130, err + console_tail(out))
            self.assertIn("interrupted", err)
            self.assertEqual(virtbench_domains(), [])
            r = vbtest.load(out)
            self.assertTrue(r["interrupted"])
            self.assertEqual(r["platforms"][0]["storage"], "pool virtbench")
            finished = [x for x in r["runs"] if "error" not in x]
            self.assertGreaterEqual(len(finished), 2, r["runs"])
            self.assertEqual({x["exit_code"] for x in finished}, {0}, r["runs"])
            # The console log came back from the pool; the run's volumes are gone from it.
            with open(os.path.join(out, "raw", "libvirt", "console.log"), errors="replace") as f:
                self.assertIn("virtbench-init: agent on", f.read())
            self.assertEqual([v for v in pool_volumes() if v.startswith("virtbench-")], [])
        finally:
            for name in pushed:
                if name not in before:
                    virsh("vol-delete", name, "--pool", "virtbench", check=False)


if __name__ == "__main__":
    vbtest.main()
