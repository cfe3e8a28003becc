"""Runs on a remote host (--host ssh://root@127.0.0.1:PORT, and libvirt's own qemu+ssh://) through a real sshd
this test starts on loopback with its own host key, authorized key and configs: results
that describe the remote host, hostile arguments arriving verbatim, Ctrl-C, the connection
dropping mid-run, and one clear line with the right exit code for each bad input. Nothing
may be left on either side: no ControlMaster (socket or process), no remote scratch
directory, no sysbench."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402
import test_docker  # noqa: E402  (its TestEngine: the "remote" engine)

SSHD = "/usr/sbin/sshd"

CPU_EXPERIMENT = """[[experiment]]
name = "cpu"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0
"""
# Short steps (tools/test's budget): 2 iterations of cpu and a small fileio.
SUITE = 'name = "remote"\niterations = 2\n' + CPU_EXPERIMENT + """[[experiment]]
name = "fileio"
workload = "fileio"
threads = 2
file-total-size = "8M"
file-test-mode = "rndrw"
time = 1
"""
# One short step per platform (tools/test's budget).
ONE_STEP_SUITE = 'name = "remote-one"\niterations = 1\n' + CPU_EXPERIMENT
# qemu over --host: one short step of each (a TCG boot is most of it).
QEMU_SUITE = 'name = "remote-qemu"\niterations = 1\n' + CPU_EXPERIMENT + """[[experiment]]
name = "fileio"
workload = "fileio"
file-total-size = "8M"
file-test-mode = "rndrw"
time = 1
warmup = 0
"""
LOCAL_IMAGE = os.path.join("/var/lib/virtbench" if os.geteuid() == 0 else os.path.expanduser("~/.local/share/virtbench"),
                           "image")
# Long enough to be interrupted after its first step.
LONG_SUITE = 'name = "remote-long"\niterations = 8\n' + CPU_EXPERIMENT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vbtest", "-f", path], check=True)
    with open(path + ".pub") as f:
        return f.read().split()[:2]


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def virsh_domains():
    return virsh("list", "--all", "--name").stdout.split()


def virsh_pool_volumes():
    p = virsh("vol-list", "virtbench", check=False)
    return [line.split()[0] for line in p.stdout.splitlines()[2:] if line.strip()]


def children(pid):
    p = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


class Remote(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SSHD):
            raise AssertionError(f"{SSHD} is missing: apt-get install openssh-server (tools/setup installs it)")
        if os.geteuid() != 0:
            raise AssertionError("the remote tests start an sshd and log in as root: run them as root")
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        # Under /run (root's) and short: the pid file is what tools/test.d/40-sshd looks for.
        cls.dir = tempfile.mkdtemp(prefix="vbtest-sshd-", dir="/run")
        d = cls.dir
        host_key = keygen(os.path.join(d, "host_key"))
        user_key = keygen(os.path.join(d, "user_key"))
        keygen(os.path.join(d, "other_key"))  # a key the host does not accept; also a "changed" host key
        with open(os.path.join(d, "other_key.pub")) as f:
            other_key = f.read().split()[:2]
        with open(os.path.join(d, "authorized_keys"), "w") as f:
            f.write(" ".join(user_key) + "\n")
        cls.port = free_port()
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(f"Port {cls.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n"
                    f"AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                    f"PidFile {d}/sshd.pid\nMaxStartups 50\nMaxSessions 50\n")
        hostname = f"[127.0.0.1]:{cls.port}"

        def client(name, key, known):
            with open(os.path.join(d, name + "_known_hosts"), "w") as f:
                f.write(known)
            path = os.path.join(d, name + ".ssh_config")
            with open(path, "w") as f:
                f.write(f"Host *\n  IdentityFile {d}/{key}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
                        f"  UserKnownHostsFile {d}/{name}_known_hosts\n  GlobalKnownHostsFile /dev/null\n")
            return path

        cls.config = client("good", "user_key", f"{hostname} {' '.join(host_key)}\n")
        cls.config_unknown = client("unknown", "user_key", "")
        cls.config_changed = client("changed", "user_key", f"{hostname} {' '.join(other_key)}\n")
        cls.config_refused = client("refused", "other_key", f"{hostname} {' '.join(host_key)}\n")
        cls.url = f"ssh://root@127.0.0.1:{cls.port}"
        cls.sshd_log = open(os.path.join(d, "sshd.log"), "w")
        cls.sshd = subprocess.Popen([SSHD, "-f", os.path.join(d, "sshd_config"), "-D", "-e"],
                                    stdout=cls.sshd_log, stderr=subprocess.STDOUT)
        vbtest.wait_for(lambda: cls._listening(), 10, "the test sshd to listen")

    @classmethod
    def _listening(cls):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", cls.port)) == 0

    @classmethod
    def tearDownClass(cls):
        cls.sshd.terminate()
        cls.sshd.wait(10)
        cls.sshd_log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vbr-", dir="/tmp")  # short: the ControlPath lives below
        self.runtime = os.path.join(self.tmp, "x")
        os.makedirs(self.runtime)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)
        self.data = os.path.join(self.tmp, "data")
        self.suite = os.path.join(self.tmp, "remote.toml")
        with open(self.suite, "w") as f:
            f.write(SUITE)
        self.long_suite = os.path.join(self.tmp, "long.toml")
        with open(self.long_suite, "w") as f:
            f.write(LONG_SUITE)
        self.remote_dirs_before = set(glob.glob("/var/tmp/virtbench-*"))
        self.sysbench_before = set(vbtest.pgrep("^sysbench "))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def virtbench(self, *args, config=None, check=None, **kw):
        return vbtest.run("--data-dir", self.data, *args, "--ssh-config", config or self.config, check=check,
                          env=self.env, timeout=120, **kw)

    def sshd_logins(self):
        self.sshd_log.flush()
        with open(os.path.join(self.dir, "sshd.log")) as f:
            return f.read().count("Accepted publickey for root")

    def assert_nothing_left(self):
        # This side: no master (process or socket), no runtime directory.
        vbtest.wait_for(lambda: not vbtest.pgrep(self.runtime), 10, "no ssh process of the run")
        self.assertEqual(glob.glob(os.path.join(self.runtime, "virtbench", "run-*")), [])
        # The remote side: no scratch directory, no sysbench.
        self.assertEqual(set(glob.glob("/var/tmp/virtbench-*")) - self.remote_dirs_before, set())
        vbtest.wait_for(lambda: not (set(vbtest.pgrep("^sysbench ")) - self.sysbench_before), 10,
                        "no remote sysbench left")

    def test_native_run_on_the_remote_host(self):
        out = os.path.join(self.tmp, "out")
        p = self.virtbench("run", "--host", self.url, "--suite", self.suite, "--platform", "native", "--out", out,
                           check=0)
        self.assertIn(f"at {self.url}", p.stderr)
        r = vbtest.load(out)
        host = r["host"]
        self.assertEqual(host["remote"], self.url)
        self.assertEqual(host["hostname"], socket.gethostname())
        self.assertEqual(host["cpus"], os.cpu_count())
        self.assertEqual(host["kernel"].split()[0], os.uname().release)
        with open("/proc/meminfo") as f:
            self.assertEqual(host["memory_bytes"], int(f.readline().split()[1]) * 1024)
        self.assertIn("cpu_model", host)
        platform = r["platforms"][0]
        self.assertEqual(platform["host"], self.url)
        self.assertTrue(platform["sysbench_version"].startswith("sysbench 1.0"), platform)
        self.assertEqual(len(platform["sysbench_sha256"]), 64)
        self.assertIn("/var/tmp/virtbench-", platform["fileio_storage"])
        runs = r["runs"]
        self.assertEqual(len(runs), 4, runs)
        for run in runs:
            self.assertEqual(run["exit_code"], 0, run)
            self.assertNotIn("error", run)
            split = run["cpu"]["host"]
            self.assertGreaterEqual(run["host_samples"] if "host_samples" in run else 2, 2)
            total = sum(split[k] for k in ("user_pct", "kernel_pct", "idle_pct", "iowait_pct", "steal_pct"))
            self.assertAlmostEqual(total, 100, delta=1)
            self.assertGreater(run["metrics"]["total_time_s"], 0.5)
            proc = run["cpu"].get("platform_process")
            self.assertIsNotNone(proc, run["cpu"])  # the remote command's own CPU seconds (`times`)
            if run["experiment"] == "cpu":
                self.assertGreater(run["metrics"]["events_per_sec"], 0)
                self.assertGreater(proc["user_s"], 0.1)
                self.assertGreater(split["user_pct"], 10, split)  # sysbench cpu kept one CPU busy (of few)
            else:
                self.assertGreater(run["metrics"]["read_mib_s"], 0)
                drops = run["cache_drops"] if "cache_drops" in run else run.get("drops")
                self.assertTrue(drops, run)
        self.assert_nothing_left()

    def test_hostile_arguments_arrive_verbatim(self):
        hostile = ["a b", "'", '"', "it's \"q\"", "; touch /tmp/vbtest-pwned", "$(touch /tmp/vbtest-pwned)",
                   "`touch /tmp/vbtest-pwned`", "${HOME}", "line\nbreak\n", "", "-n", "--", "\\", "*", "~",
                   "\u00e9 \u65e5\u672c", "&& || | > <", "#c", "%s %d"]
        p = subprocess.run([vbtest.VIRTBENCH, "--data-dir", self.data, "exec", "--host", self.url, "--ssh-config",
                            self.config, "--", "printf", "%s\\0", *hostile], capture_output=True, env=self.env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"".join(a.encode() + b"\0" for a in hostile))
        self.assertFalse(os.path.exists("/tmp/vbtest-pwned"))
        # The exit code comes back too.
        p = vbtest.run("--data-dir", self.data, "exec", "--host", self.url, "--ssh-config", self.config, "--",
                       "sh", "-c", "exit 7", env=self.env, timeout=60)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assert_nothing_left()

    def interrupted_long_run(self, interrupt):
        """Starts a run of LONG_SUITE, calls interrupt() once its first iteration is recorded;
        returns (exit code, stderr, out dir)."""
        out = os.path.join(self.tmp, "out")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "--data-dir", self.data, "run", "--host", self.url, "--ssh-config",
                                 self.config, "--suite", self.long_suite, "--platform", "native", "--out", out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 1, 60, "a finished iteration")
            interrupt(proc)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        return proc.returncode, err, out

    def test_ctrl_c_keeps_finished_steps_and_leaves_nothing(self):
        def ctrl_c(proc):
            time.sleep(0.5)  # into the next sysbench
            proc.send_signal(signal.SIGINT)
        code, err, out = self.interrupted_long_run(ctrl_c)
        self.assertEqual(code, 130, err)
        self.assertIn("interrupted", err)
        r = vbtest.load(out)
        self.assertTrue(r["interrupted"])
        self.assertGreaterEqual(len(r["runs"]), 1)
        self.assertTrue(all(x["exit_code"] == 0 for x in r["runs"]), r["runs"])
        self.assert_nothing_left()

    def test_connection_lost_mid_run_fails_the_platform(self):
        def drop_connection(proc):
            # The sshd children serving this run's connection (the test sshd serves nothing else now).
            served = children(self.sshd.pid)
            self.assertTrue(served, "no sshd child serves the connection")
            for pid in served:
                os.kill(pid, signal.SIGKILL)
        code, err, out = self.interrupted_long_run(drop_connection)
        self.assertEqual(code, 1, err)
        self.assertIn("lost the SSH connection", err)
        r = vbtest.load(out)
        self.assertIn("lost the SSH connection", r["platforms"][0]["error"])
        self.assertLess(len(r["runs"]), 8)
        self.assert_nothing_left()

    def test_a_sigkilled_run_leaves_no_master_and_no_remote_sysbench(self):
        code, _, _ = self.interrupted_long_run(lambda proc: proc.send_signal(signal.SIGKILL))
        self.assertEqual(code, -signal.SIGKILL)
        # The master died with virtbench (PR_SET_PDEATHSIG); the remote wrapper ended sysbench.
        vbtest.wait_for(lambda: not vbtest.pgrep(self.runtime), 10, "the master to die with virtbench")
        vbtest.wait_for(lambda: not (set(vbtest.pgrep("^sysbench ")) - self.sysbench_before), 10,
                        "the remote sysbench to end")
        # Its directories stay, here and there, until the next connection to that host sweeps them.
        left = set(glob.glob("/var/tmp/virtbench-*")) - self.remote_dirs_before
        self.assertEqual(len(left), 1)
        self.assertTrue(os.path.exists(os.path.join(left.pop(), "owner")))
        self.assertEqual(len(glob.glob(os.path.join(self.runtime, "virtbench", "run-*"))), 1)
        p = vbtest.run("--data-dir", self.data, "exec", "--host", self.url, "--ssh-config", self.config, "--", "true",
                       check=0, env=self.env, timeout=60)
        self.assertNotIn("ended its SSH master", p.stderr)  # it was gone already
        self.assertRegex(p.stderr, rf"removed /var/tmp/virtbench-\S+ on {self.url}, left behind by a run")
        self.assertIn("left behind by a run that did not end cleanly", p.stderr)
        self.assert_nothing_left()

    def bad(self, url, config, expected_code, expected_text):
        out = os.path.join(self.tmp, "bad")
        p = self.virtbench("run", "--host", url, "--suite", self.suite, "--platform", "native", "--out", out,
                           config=config)
        self.assertEqual(p.returncode, expected_code, p.stderr)
        lines = [x for x in p.stderr.splitlines() if x.startswith("virtbench")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(expected_text, lines[0])
        self.assertFalse(os.path.exists(os.path.join(out, "results.json")), "no results of a run that never started")
        self.assert_nothing_left()
        return lines[0]

    def assert_nothing_left_here(self, remote_dirs=()):
        """assert_nothing_left() for this test's own remote directories only: other runs on this
        host (a parallel test tree) may have theirs in /var/tmp at the same time."""
        vbtest.wait_for(lambda: not vbtest.pgrep(self.runtime), 10, "no ssh process of the run")
        self.assertEqual(glob.glob(os.path.join(self.runtime, "virtbench", "run-*")), [])
        self.assertEqual([d for d in remote_dirs if os.path.exists(d)], [])

    def test_image_push_then_a_qemu_run_on_the_remote_host(self):
        # The local image (this data dir's), pushed into a data dir of its own on the "remote".
        self.assertTrue(os.path.isfile(os.path.join(LOCAL_IMAGE, "manifest.json")),
                        f"no guest image in {LOCAL_IMAGE}: tools/test.d builds it")
        os.makedirs(self.data)
        os.symlink(LOCAL_IMAGE, os.path.join(self.data, "image"))
        remote_data = tempfile.mkdtemp(prefix="vbtest-rdata-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, remote_data, True)
        remote_image = os.path.join(remote_data, "image")

        def push():
            return self.virtbench("image", "push", "--host", self.url, "--remote-data-dir", remote_data, check=0)

        p = push()
        for name in ("manifest.json", "base.qcow2", "vmlinuz", "initrd.img"):
            with open(os.path.join(LOCAL_IMAGE, name), "rb") as a, open(os.path.join(remote_image, name), "rb") as b:
                self.assertTrue(a.read() == b.read(), name)
        self.assertEqual([f for f in os.listdir(remote_image) if f.endswith(".part")], [])
        # Again: already there, nothing copied.
        before = os.stat(os.path.join(remote_image, "base.qcow2")).st_mtime_ns
        p = push()
        self.assertIn("already on " + self.url, p.stdout)
        self.assertNotIn("copying", p.stderr)
        self.assertEqual(os.stat(os.path.join(remote_image, "base.qcow2")).st_mtime_ns, before)
        # Cut short (an interrupted copy): continued from its bytes, then checked.
        kernel = os.path.join(remote_image, "vmlinuz")
        size = os.path.getsize(kernel)
        os.truncate(kernel, size // 2)
        os.rename(os.path.join(remote_image, "initrd.img"), os.path.join(remote_image, "initrd.img.part"))
        p = push()
        self.assertIn("resuming vmlinuz: ", p.stderr)
        self.assertIn("vmlinuz: resumed, sent", p.stdout)
        self.assertIn("initrd.img: resumed, sent 0.0 MiB", p.stdout)
        self.assertNotIn("copying base.qcow2", p.stderr)
        with open(os.path.join(LOCAL_IMAGE, "vmlinuz"), "rb") as a, open(kernel, "rb") as b:
            self.assertTrue(a.read() == b.read())
        self.assert_nothing_left_here()

        # Not pushed there: one clear error naming the fix.
        out = os.path.join(self.tmp, "missing")
        p = self.virtbench("run", "--host", self.url, "--suite", self.suite, "--platform", "qemu", "--out", out,
                           "--remote-data-dir", "/nonexistent")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"virtbench image push --host {self.url}", p.stderr)
        self.assert_nothing_left_here()

        # A qemu run there: QEMU, its disks and sockets on the remote, forwarded back.
        suite = os.path.join(self.tmp, "qemu.toml")
        with open(suite, "w") as f:
            f.write(QEMU_SUITE)
        out = os.path.join(self.tmp, "out")
        p = self.virtbench("run", "--host", self.url, "--suite", suite, "--platform", "qemu", "--accel", "tcg",
                           "--remote-data-dir", remote_data, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = vbtest.load(out)
        platform = r["platforms"][0]
        self.assertEqual(platform["host"], self.url, platform)
        run_dir = re.search(r"/var/tmp/virtbench-[^/ ]+", platform["qemu_command"]).group(0)
        self.assertIn(remote_image, platform["qemu_command"])
        self.assertEqual(r["host"]["remote"], self.url)
        runs = r["runs"]
        self.assertEqual(sorted(x["experiment"] for x in runs), ["cpu", "fileio"], runs)
        for run in runs:
            self.assertEqual(run["exit_code"], 0, run)
            self.assertNotIn("error", run)
        with open(os.path.join(out, "raw", "qemu", "console.log")) as f:
            self.assertIn("virtbench-init", f.read())  # the console log, copied back
        # Nothing left: no QEMU there, no forward or socket here, no directory on either side.
        vbtest.wait_for(lambda: not vbtest.pgrep("qemu-system.*" + run_dir), 10, "no remote QEMU")
        self.assertEqual(glob.glob(os.path.join(self.runtime, "**", "*.sock"), recursive=True), [])
        self.assert_nothing_left_here([run_dir])

    def test_bad_hosts_each_fail_with_one_line_and_the_fix(self):
        line = self.bad(f"ssh://root@127.0.0.1:{free_port()}", None, 1, "connection refused")
        self.assertIn("no sshd listens there", line)
        line = self.bad(self.url, self.config_unknown, 2, "is not in")
        self.assertIn(f"ssh-keyscan -p {self.port} 127.0.0.1", line)
        line = self.bad(self.url, self.config_changed, 1, "CHANGED")
        self.assertIn("ssh-keygen", line)
        line = self.bad(self.url, self.config_refused, 2, "refused the key")
        self.assertIn("authorized_keys", line)
        self.bad("ssh://root:pw@127.0.0.1", None, 2, "password")
        self.bad("ssh://127.0.0.1/tmp", None, 2, "path")
        self.bad("ssh://root@127.0.0.1:99999", None, 2, "outside 1-65535")
        p = self.virtbench("run", "--host", self.url, "--platform", "native,qemu", "--remote-data-dir", "relative/dir",
                           "--out", os.path.join(self.tmp, "d"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--remote-data-dir relative/dir: give an absolute path on the remote host", p.stderr)
        # (Refused when the platform starts: the driver's option check does not know of --host.)
        p = self.virtbench("run", "--host", self.url, "--platform", "docker", "--docker-host", "tcp://127.0.0.1:2376",
                           "--insecure", "yes", "--suite", self.suite, "--out", os.path.join(self.tmp, "t"),
                           "--docker-storage", "volume")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("is reached from here, not over the SSH connection", p.stderr)
        self.assert_nothing_left()

    def test_docker_and_libvirt_on_the_remote_host(self):
        """One step each of native, docker and libvirt on the --host: docker's engine and libvirtd
        are the "remote" host's (this machine's), reached through sockets forwarded over the run's
        one SSH connection; the guest image goes into the remote pool with `image push --host`."""
        data = test_docker.DATA_DIR  # the guest image (tools/test.d/10-guest-image)

        def vb(*args, **kw):
            return vbtest.run("--data-dir", data, *args, "--ssh-config", self.config, env=self.env, timeout=600, **kw)

        manifest = json.loads(vbtest.run("--data-dir", data, "image", "list", "--json", check=0).stdout)
        prefix = manifest["recipe_hash"][:12] + "-"
        before = set(virsh_pool_volumes())
        engine = test_docker.TestEngine()
        # Its own data root: test_docker's may be in use by another run of it.
        engine.data_root = os.path.join(test_docker.DATA_DIR, "docker-remote-test")
        try:
            engine.start()
            p = vb("image", "push", "--host", self.url, "--pool", check=0)
            self.assertIn(f"on {self.url} (forwarded over SSH)", p.stderr)
            self.assertTrue({prefix + "base.qcow2", prefix + "vmlinuz", prefix + "initrd.img"} <= set(virsh_pool_volumes()))
            suite = os.path.join(self.tmp, "one.toml")
            with open(suite, "w") as f:
                f.write(ONE_STEP_SUITE)
            out = os.path.join(self.tmp, "out")
            p = vb("run", "--host", self.url, "--suite", suite, "--platform", "native,docker,libvirt", "--out", out,
                   "--docker-host", "unix://" + engine.sock, "--vcpus", "1", "--memory", "512",
                   "--accel", "tcg")  # (whether KVM works is not probed on a remote host: here it does not)
            self.assertEqual(p.returncode, 0, p.stderr)
            r = vbtest.load(out)
            platforms = {x["name"]: x for x in r["platforms"]}
            docker, libvirt = platforms["docker"], platforms["libvirt"]
            self.assertEqual(docker["docker_host"], f"unix://{engine.sock} on {self.url} (forwarded over SSH)")
            self.assertEqual(docker["engine_host"], self.url)
            self.assertEqual(libvirt["libvirt_host"], self.url)
            self.assertRegex(libvirt["libvirt_socket"], rf"^/var/run/libvirt/\S+-sock on {self.url} ")
            self.assertEqual(libvirt["storage"], "pool virtbench")
            self.assertEqual(sorted(x["platform"] for x in r["runs"]), ["docker", "libvirt", "native"])
            for run in r["runs"]:
                self.assertEqual(run["exit_code"], 0, run)
                self.assertNotIn("error", run)
                self.assertGreater(run["metrics"]["events_per_sec"], 0)
            for x in r["platforms"]:
                self.assertNotIn("error", x)
            # Nothing left there: no container, no domain, no volume of the run in the pool.
            self.assertEqual([c for c in engine.labelled_containers()
                              if c["Labels"].get("virtbench.run", "").startswith(docker["container_name"][10:])], [])
            self.assertNotIn(libvirt["domain_name"], virsh_domains())
            self.assertEqual([v for v in virsh_pool_volumes() if v.startswith(libvirt["domain_name"])], [])
            # ... and here: no forwarded socket (the runtime directory is gone with its sockets), no master.
            self.assert_nothing_left()

            # The same pool through libvirt's own SSH transport (qemu+ssh://, no --host): libvirt runs
            # ssh (here a wrapper giving it the test's config: key and known_hosts, checked) and
            # virt-ssh-helper there; the domain is remote to virtbench, so it boots from the pool.
            wrapper = os.path.join(self.tmp, "ssh-with-config")
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec ssh -F {self.config} "$@"\n')
            os.chmod(wrapper, 0o755)
            uri = f"qemu+ssh://root@127.0.0.1:{self.port}/system?command={wrapper}&no_tty=1"
            out = os.path.join(self.tmp, "out-qemu-ssh")
            logins_before = self.sshd_logins()
            p = vbtest.run("--data-dir", data, "run", "--suite", suite, "--platform", "libvirt", "--libvirt-uri", uri,
                           "--out", out, "--vcpus", "1", "--memory", "512", "--accel", "tcg", env=self.env, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
            r = vbtest.load(out)
            libvirt = r["platforms"][0]
            self.assertEqual(libvirt["storage"], "pool virtbench")
            self.assertEqual(libvirt["uri"], uri)
            [run] = r["runs"]
            self.assertEqual(run["exit_code"], 0, run)
            self.assertGreater(run["metrics"]["events_per_sec"], 0)
            self.assertNotIn(libvirt["domain_name"], virsh_domains())
            self.assertEqual([v for v in virsh_pool_volumes() if v.startswith(libvirt["domain_name"])], [])
            self.assertGreater(self.sshd_logins(), logins_before, "libvirt's connection did not log in through the test sshd")
            vbtest.wait_for(lambda: not vbtest.pgrep("ssh -F " + self.config), 10, "libvirt's ssh to end")
        finally:
            engine.stop()
            shutil.rmtree(engine.dir, ignore_errors=True)
            for name in set(virsh_pool_volumes()) - before:
                virsh("vol-delete", name, "--pool", "virtbench", check=False)

    def test_missing_remote_sysbench(self):
        out = os.path.join(self.tmp, "out")
        p = self.virtbench("run", "--host", self.url, "--suite", self.suite, "--platform", "native", "--out", out,
                           "--sysbench", "/nonexistent/sysbench")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("not installed on the remote host", p.stderr)
        r = vbtest.load(out)
        self.assertEqual(r["runs"], [])
        self.assertIn("not installed on the remote host", r["platforms"][0]["error"])
        self.assert_nothing_left()

    def test_doctor_checks_the_remote_host(self):
        p = self.virtbench("doctor", "--host", self.url)
        self.assertIn("logged in to " + self.url, p.stdout)
        for row in ("remote host", "remote /proc", "remote sysbench", "remote drop caches", "remote free disk",
                    "remote qemu", "remote image", "remote libvirt"):
            self.assertRegex(p.stdout, rf"(?m)^ok +{row} ", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^ok +remote qemu +QEMU emulator version .*; --accel auto will use (tcg|kvm) there")
        self.assertRegex(p.stdout, r"(?m)^ok +remote image +guest image recipe [0-9a-f]{12} in /var/lib/virtbench/image$")
        self.assertRegex(p.stdout, r"(?m)^ok +remote libvirt +libvirtd \(forwarded over SSH\) answers on ")
        # The engine socket there: this host has none at /var/run/docker.sock while the tests run
        # (they start their own engines); either way the row is there and not a failure.
        self.assertRegex(p.stdout, r"(?m)^(ok|WARN) +remote docker ")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # An image missing there is a warning naming the push command (doctor still exits 0).
        p = self.virtbench("doctor", "--host", self.url, "--remote-data-dir", "/nonexistent")
        self.assertRegex(p.stdout, r"(?m)^WARN +remote image +the guest image is not on .*"
                                   r"image push --host ssh://root@127\.0\.0\.1:\d+ --remote-data-dir /nonexistent")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.virtbench("doctor", "--host", self.url, "--remote-data-dir", "rel")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("--remote-data-dir rel: give an absolute path on the remote host", p.stderr)
        p = self.virtbench("doctor", "--host", self.url, config=self.config_refused)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL  ssh", p.stdout)
        self.assertIn("refused the key", p.stdout)
        self.assert_nothing_left()


if __name__ == "__main__":
    vbtest.main()
