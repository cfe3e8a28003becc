"""The docker platform end to end, against real engines (no mocks):

- virtbench's own private dockerd (`--docker-host private`, what a host without an engine gets);
- a dockerd this test starts itself (TestEngine below, data root DATA_DIR/docker-test so the
  imported image persists), which it can inspect by label after a run and stop mid-run.

Nothing is skipped: without dockerd, root and the guest image these tests fail and say why.
"""
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
import http.client
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402

DATA_DIR = "/var/lib/virtbench"
LABEL_FILTER = urllib.parse.quote(json.dumps({"label": ["virtbench.run"]}))

ONE_FILEIO = """name = "docker-fileio"
[[experiment]]
name = "fio"
workload = "fileio"
threads = 4
file-total-size = "16M"
file-test-mode = "rndrw"
time = 1
"""

ONE_CPU_LONG = """name = "docker-cpu"
iterations = 20
[[experiment]]
name = "cpu"
workload = "cpu"
cpu-max-prime = 2000
time = 2
warmup = 0
"""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


class TestEngine:
    """A dockerd owned by this test: own socket, exec root and pidfile in a temp dir."""

    def __init__(self):
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not os.access(dockerd, os.X_OK):
            raise AssertionError("dockerd is not installed: apt-get install docker.io (tools/setup does)")
        if os.geteuid() != 0:
            raise AssertionError("the docker integration tests start dockerd and need root")
        self.dir = tempfile.mkdtemp(prefix="vbtest-docker-", dir="/run" if os.path.isdir("/run") else None)
        os.chmod(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.data_root = os.path.join(DATA_DIR, "docker-test")
        self.log = os.path.join(self.dir, "dockerd.log")
        self.proc = None

    def start(self):
        with open(os.path.join(self.dir, "daemon.json"), "w") as f:
            f.write("{}\n")
        env = dict(os.environ, PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.pop("DOCKER_HOST", None)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "--config-file=" + os.path.join(self.dir, "daemon.json"), "--data-root=" + self.data_root,
                 "--exec-root=" + os.path.join(self.dir, "exec"), "--pidfile=" + os.path.join(self.dir, "docker.pid"),
                 "--host=unix://" + self.sock, "--bridge=none", "--iptables=false", "--ip-masq=false"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"test dockerd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.call("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"test dockerd did not answer on {self.sock} within 60 s:\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def log_tail(self):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return "(no log)"

    def call(self, method, path):
        c = UnixHTTPConnection(self.sock)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def json(self, path):
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def labelled_containers(self):
        return self.json("/v1.41/containers/json?all=1&filters=" + LABEL_FILTER)

    def labelled_volumes(self):
        return self.json("/v1.41/volumes?filters=" + LABEL_FILTER)["Volumes"] or []

    def host(self):
        return "unix://" + self.sock


ENGINE = None


def setUpModule():
    global ENGINE
    ENGINE = TestEngine()
    ENGINE.start()


def tearDownModule():
    if ENGINE:
        ENGINE.stop()
        shutil.rmtree(ENGINE.dir, ignore_errors=True)


def write_suite(tmp, text, name):
    path = os.path.join(tmp, name + ".toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def measured(results):
    return [r for r in results["runs"] if "warmup" not in r]


def sysbench_running_in(container_id):
    status, body = ENGINE.call("GET", f"/v1.41/containers/{container_id}/top")
    return status == 200 and b"sysbench" in body


class DockerRun(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_quick_suite_on_a_private_engine_then_nothing_is_left(self):
        out = os.path.join(self.tmp, "out")
        p = vbtest.run("run", "--suite", "quick", "--platform", "docker", "--iterations", "1", "--time", "1",
                       "--docker-host", "private", "--out", out, check=0)
        m = re.search(r"started a private dockerd \(pid (\d+)\) on unix://(\S+), data root (\S+),", p.stderr)
        self.assertTrue(m, p.stderr)
        pid, sock, data_root = int(m.group(1)), m.group(2), m.group(3)
        self.assertIn(f"stopped the private dockerd (pid {pid})", p.stderr)
        self.assertFalse(os.path.exists(f"/proc/{pid}"), "the private dockerd is still running")
        self.assertEqual(vbtest.pgrep(re.escape(sock)), [], "processes of the private engine survived")

        r = vbtest.load(out)
        d = r["platforms"][0]
        self.assertEqual(d["name"], "docker")
        self.assertTrue(d["engine_private"])
        self.assertEqual(d["api_version"], "1.41")
        self.assertTrue(d["engine_version"].startswith("20.10"), d)
        self.assertIn(d["storage_driver"], ("overlay2", "vfs", "btrfs", "fuse-overlayfs"))
        self.assertIn(d["cgroup_version"], ("1", "2"))
        self.assertEqual(d["nano_cpus"], 2 * 10**9)
        self.assertEqual(d["memory_bytes"], 2048 << 20)
        self.assertEqual(d["network_mode"], "none")
        self.assertRegex(d["image_tag"], r"^virtbench/guest:[0-9a-f]{12}$")
        self.assertTrue(d["image_id"].startswith("sha256:"))
        with open(os.path.join(DATA_DIR, "image", "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(d["sysbench_sha256"], manifest["sysbench_sha256"])
        self.assertEqual(d["image_tag"], "virtbench/guest:" + manifest["recipe_hash"][:12])
        self.assertTrue(d["fileio_storage"].startswith("bind-mounted host directory "), d["fileio_storage"])
        scratch = d["fileio_storage"].split()[3]
        self.assertFalse(os.path.exists(scratch), "the bind-mounted scratch directory was not removed")
        # The container is gone from the private engine's data root.
        self.assertFalse(os.path.exists(os.path.join(data_root, "containers", d["container_id"])))

        runs = measured(r)
        self.assertEqual(sorted(x["experiment"] for x in runs),
                         ["exp1-cpu-2000", "exp2-cpu-20000", "exp3-fileio-rndrw", "exp4-fileio-rndrw-async"])
        for run in runs:
            self.assertNotIn("error", run)
            self.assertEqual(run["exit_code"], 0)
            split = run["cpu"]["platform_process"]
            if run["experiment"].startswith("exp1") or run["experiment"].startswith("exp2"):
                self.assertGreater(run["metrics"]["events_per_sec"], 0)
                # A CPU-bound run: user time in the container's cgroup (up to a second; less
                # when other work shares the host), next to no kernel time.
                self.assertGreater(split["user_s"], 0.2, run)
                self.assertGreater(split["user_s"], split["kernel_s"], run)
            else:
                self.assertGreater(run["metrics"]["read_mib_s"], 0)
                self.assertGreater(split["user_s"] + split["kernel_s"], 0.05, run)
                self.assertEqual([c["where"] for c in run["cache_drops"]], ["host"])
            with open(os.path.join(out, run["raw"])) as f:
                self.assertIn("sysbench 1.0", f.read())

    def test_volume_storage_and_cleanup_by_label(self):
        out = os.path.join(self.tmp, "out")
        suite = write_suite(self.tmp, ONE_FILEIO, "fio")
        p = vbtest.run("run", "--suite", suite, "--platform", "docker", "--iterations", "1", "--docker-host",
                       ENGINE.host(), "--docker-storage", "volume", "--out", out, check=0)
        self.assertNotIn("private dockerd", p.stderr)
        d = vbtest.load(out)["platforms"][0]
        self.assertFalse(d["engine_private"])
        self.assertTrue(d["fileio_storage"].startswith("volume virtbench-"), d["fileio_storage"])
        run = measured(vbtest.load(out))[0]
        self.assertGreater(run["metrics"]["written_mib_s"], 0)
        self.assertEqual(ENGINE.labelled_containers(), [])
        self.assertEqual(ENGINE.labelled_volumes(), [])

    def test_ctrl_c_removes_the_container_and_keeps_finished_iterations(self):
        out = os.path.join(self.tmp, "out")
        suite = write_suite(self.tmp, ONE_CPU_LONG, "cpu")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", suite, "--platform", "docker", "--docker-host",
                                 ENGINE.host(), "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 1, 120, "a finished iteration")
            container = ENGINE.labelled_containers()[0]["Id"]
            vbtest.wait_for(lambda: sysbench_running_in(container), 30, "sysbench running in the container")
            interrupted_at = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            took = time.monotonic() - interrupted_at
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertLess(took, 10, "Ctrl-C took too long to stop the run")
        self.assertEqual(ENGINE.labelled_containers(), [])
        r = vbtest.load(out)
        self.assertTrue(r["interrupted"])
        self.assertGreaterEqual(len(r["runs"]), 1)
        for run in r["runs"]:
            self.assertGreater(run["metrics"]["events_per_sec"], 0)

    def test_engine_stopped_mid_run_fails_the_platform_and_the_next_run_cleans_up(self):
        out = os.path.join(self.tmp, "out")
        suite = write_suite(self.tmp, ONE_CPU_LONG, "cpu")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", suite, "--platform", "docker", "--docker-host",
                                 ENGINE.host(), "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 1, 120, "a finished iteration")
            container = ENGINE.labelled_containers()[0]
            vbtest.wait_for(lambda: sysbench_running_in(container["Id"]), 30, "sysbench running in the container")
            ENGINE.stop()  # SIGTERM to dockerd, as `service docker stop` would
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
            if ENGINE.proc is None:
                ENGINE.start()
        self.assertEqual(proc.returncode, 1, err)
        self.assertRegex(err, r"stopped answering|stopped while running")
        self.assertIn(ENGINE.sock, err)
        r = vbtest.load(out)
        self.assertIn("error", r["platforms"][0])
        finished = [x for x in r["runs"] if "error" not in x]
        self.assertGreaterEqual(len(finished), 1)
        for run in finished:
            self.assertGreater(run["metrics"]["events_per_sec"], 0)

        # The engine could not remove the container while it was down; the next run on it does.
        left = ENGINE.labelled_containers()
        self.assertEqual([c["Id"] for c in left], [container["Id"]])
        out2 = os.path.join(self.tmp, "out2")
        p = vbtest.run("run", "--suite", write_suite(self.tmp, ONE_FILEIO, "fio"), "--platform", "docker",
                       "--iterations", "1", "--docker-host", ENGINE.host(), "--out", out2, check=0)
        self.assertIn(f"removed container {container['Names'][0].lstrip('/')}", p.stderr)
        self.assertIn("left behind by an earlier virtbench run", p.stderr)
        self.assertEqual(ENGINE.labelled_containers(), [])

    def test_a_killed_runs_engine_stops_itself_and_the_next_run_cleans_up(self):
        out = os.path.join(self.tmp, "out")
        suite = write_suite(self.tmp, ONE_CPU_LONG, "cpu")
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", suite, "--platform", "docker", "--docker-host",
                                 "private", "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            vbtest.wait_for(lambda: len(vbtest.runs_in(out)) >= 1, 120, "a finished iteration")
            proc.kill()  # no cleanup by virtbench at all
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        m = re.search(r"started a private dockerd \(pid (\d+)\) on unix://(\S+),", err)
        self.assertTrue(m, err)
        orphan, sock = int(m.group(1)), m.group(2)
        # The kernel tells the engine its parent died (PR_SET_PDEATHSIG, SIGTERM): dockerd
        # stops the container (up to its 15 s shutdown timeout) and containerd, and exits.
        vbtest.wait_for(lambda: not os.path.exists(f"/proc/{orphan}"), 60,
                        f"the killed run's private dockerd (pid {orphan}) to stop by itself")
        self.assertEqual(vbtest.pgrep(re.escape(sock)), [], "processes of the killed run's engine survived it")
        container = vbtest.load(out)["platforms"][0]["container_name"]

        p = vbtest.run("run", "--suite", write_suite(self.tmp, ONE_FILEIO, "fio"), "--platform", "docker",
                       "--iterations", "1", "--docker-host", "private", "--out", os.path.join(self.tmp, "out2"), check=0)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"removed container {container}", p.stderr)
        self.assertIn("left behind by an earlier virtbench run", p.stderr)

    def test_a_reader_that_goes_away_does_not_end_the_run_before_its_cleanup(self):
        # `virtbench run ... 2>&1 | head -1`: the pipe's reader is gone after one line; a
        # SIGPIPE would end virtbench with its container and private engine still up.
        out = os.path.join(self.tmp, "out")
        suite = write_suite(self.tmp, ONE_FILEIO, "fio")
        engines_before = set(vbtest.pgrep("^/usr/sbin/dockerd"))
        runtime_before = set(os.listdir("/run/virtbench")) if os.path.isdir("/run/virtbench") else set()
        r, w = os.pipe()
        proc = subprocess.Popen([vbtest.VIRTBENCH, "run", "--suite", suite, "--platform", "docker", "--iterations",
                                 "1", "--docker-host", "private", "--out", out], stdout=w, stderr=w)
        os.close(w)
        first = b""
        while b"\n" not in first:
            chunk = os.read(r, 1)
            if not chunk:
                break
            first += chunk
        os.close(r)  # the reader goes away; virtbench's next writes fail
        try:
            rc = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertTrue(first, "virtbench printed nothing")
        self.assertEqual(rc, 0, "the run did not finish once its output's reader was gone")
        d = vbtest.load(out)
        self.assertEqual(len([x for x in d["runs"] if not x.get("warmup")]), 1)
        self.assertTrue(d["platforms"][0]["engine_private"])
        self.assertEqual(set(vbtest.pgrep("^/usr/sbin/dockerd")) - engines_before, set(), "its private dockerd was left")
        self.assertEqual(set(os.listdir("/run/virtbench")) - runtime_before, set(), "its runtime directory was left")

    def test_no_engine_at_the_given_socket_says_how_to_start_one(self):
        out = os.path.join(self.tmp, "out")
        sock = os.path.join(self.tmp, "nothing-here.sock")
        p = vbtest.run("run", "--suite", "quick", "--platform", "docker", "--iterations", "1", "--time", "1",
                       "--docker-host", "unix://" + sock, "--out", out, check=1)
        self.assertIn(f"connect to the docker engine at unix://{sock}", p.stderr)
        self.assertIn("dockerd -H unix://" + sock, p.stderr)
        self.assertIn("error", vbtest.load(out)["platforms"][0])
        p = vbtest.run("run", "--platform", "docker", "--docker-host", "tcp://10.0.0.1:2375", "--out",
                       os.path.join(self.tmp, "tcp"), check=2, env={k: v for k, v in os.environ.items()
                                                                     if not k.startswith("DOCKER_")})
        self.assertIn("--insecure", p.stderr)


if __name__ == "__main__":
    vbtest.main()
