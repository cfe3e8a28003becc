"""The docker platform over tcp:// with TLS, against a real dockerd this test starts
(--tlsverify on 127.0.0.1 at a free port, certificates made with openssl here; its own
data root DATA_DIR/docker-test-tls and socket under /run/vbtest-docker-tls-*), stopped in
tearDownModule. Exit codes: a certificate the client cannot verify, or a server refusing
the client's, is the engine failing (exit 1); plain tcp:// without --insecure, or a missing
certificate file, is bad input (exit 2) before anything starts.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import vbtest  # noqa: E402
from test_docker import TestEngine  # noqa: E402

DATA_DIR = "/var/lib/virtbench"
ONE_CPU = """name = "docker-tls-cpu"
iterations = 1
[[experiment]]
name = "cpu"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0
"""
ENGINE = None


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + name,
            "-keyout", name + "-key.pem", "-out", name + ".pem", cwd=d)


def make_cert(d, ca, name, ext):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", name + "-key.pem",
            "-out", name + ".csr", cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + "-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def cert_dir(parent, name, ca, client):
    """A DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem."""
    d = os.path.join(parent, name)
    os.makedirs(d)
    shutil.copy(os.path.join(parent, ca + ".pem"), os.path.join(d, "ca.pem"))
    shutil.copy(os.path.join(parent, client + ".pem"), os.path.join(d, "cert.pem"))
    shutil.copy(os.path.join(parent, client + "-key.pem"), os.path.join(d, "key.pem"))
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TlsEngine:
    def __init__(self):
        if os.geteuid() != 0:
            raise AssertionError("the docker TLS test starts dockerd and needs root")
        self.dir = tempfile.mkdtemp(prefix="vbtest-docker-tls-", dir="/run")
        os.chmod(self.dir, 0o700)
        self.certs = os.path.join(self.dir, "certs")
        os.makedirs(self.certs)
        make_ca(self.certs, "ca")
        make_ca(self.certs, "otherca")
        make_cert(self.certs, "ca", "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
        make_cert(self.certs, "ca", "client", "extendedKeyUsage=clientAuth")
        make_cert(self.certs, "otherca", "stranger", "extendedKeyUsage=clientAuth")
        self.good = cert_dir(self.certs, "good", "ca", "client")
        self.wrong_ca = cert_dir(self.certs, "wrong-ca", "otherca", "client")
        self.unknown_client = cert_dir(self.certs, "unknown-client", "ca", "stranger")
        self.port = free_port()
        self.host = f"tcp://127.0.0.1:{self.port}"
        self.log = os.path.join(self.dir, "dockerd.log")
        with open(os.path.join(self.dir, "daemon.json"), "w") as f:
            f.write("{}\n")
        env = dict(os.environ, PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.pop("DOCKER_HOST", None)
        c = lambda f: os.path.join(self.certs, f)  # noqa: E731
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "--config-file=" + os.path.join(self.dir, "daemon.json"),
                 "--data-root=" + os.path.join(DATA_DIR, "docker-test-tls"),
                 "--exec-root=" + os.path.join(self.dir, "exec"), "--pidfile=" + os.path.join(self.dir, "docker.pid"),
                 "--host=unix://" + os.path.join(self.dir, "docker.sock"), "--host=" + self.host,
                 "--tlsverify", "--tlscacert=" + c("ca.pem"), "--tlscert=" + c("server.pem"),
                 "--tlskey=" + c("server-key.pem"), "--bridge=none", "--iptables=false", "--ip-masq=false"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"test dockerd exited with {self.proc.returncode}: see {self.log}")
            if os.path.exists(os.path.join(self.dir, "docker.sock")):
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"test dockerd did not listen on {self.host} within 30 s: see {self.log}")

    def env(self, cert_path, verify="1"):
        e = dict(os.environ, DOCKER_CERT_PATH=cert_path)
        e.pop("DOCKER_HOST", None)
        if verify:
            e["DOCKER_TLS_VERIFY"] = verify
        else:
            e.pop("DOCKER_TLS_VERIFY", None)
        return e

    def stop(self):
        TestEngine.stop(self)  # SIGTERM, 30 s, SIGKILL of its process group
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global ENGINE
    ENGINE = TlsEngine()


def tearDownModule():
    if ENGINE:
        ENGINE.stop()


def one_line(text):
    lines = [ln for ln in text.splitlines() if ln.startswith("virtbench: error") or "error:" in ln]
    return lines


class DockerTls(unittest.TestCase):
    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.suite = os.path.join(self.tmp, "cpu.toml")
        with open(self.suite, "w") as f:
            f.write(ONE_CPU)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_docker(self, env, *extra, check):
        return vbtest.run("run", "--suite", self.suite, "--platform", "docker", "--iterations", "1",
                          "--docker-host", ENGINE.host, *extra, "--out", os.path.join(self.tmp, "out"),
                          check=check, env=env, timeout=300)

    def test_a_run_over_tls_records_the_endpoint(self):
        p = self.run_docker(ENGINE.env(ENGINE.good), "--docker-storage", "volume", check=0)
        d = vbtest.load(os.path.join(self.tmp, "out"))["platforms"][0]
        self.assertEqual(d["docker_host"], ENGINE.host + " (TLS)", p.stderr)
        self.assertIn("host_side_caveat", d)
        self.assertIn("measured on this host", p.stderr)

    def test_bind_storage_is_refused_for_tcp(self):
        p = self.run_docker(ENGINE.env(ENGINE.good), "--docker-storage", "bind", check=2)
        self.assertIn("--docker-storage volume", p.stderr)

    def test_a_server_certificate_from_another_ca_is_one_clear_line(self):
        p = self.run_docker(ENGINE.env(ENGINE.wrong_ca), "--docker-storage", "volume", check=1)
        self.assertIn("must be signed by the CA in " + os.path.join(ENGINE.wrong_ca, "ca.pem"), p.stderr)

    def test_a_client_certificate_the_server_does_not_trust_is_refused(self):
        p = self.run_docker(ENGINE.env(ENGINE.unknown_client), "--docker-storage", "volume", check=1)
        self.assertIn(ENGINE.host + " (TLS)", p.stderr)
        self.assertIn("connect to the docker engine", p.stderr)

    def test_plain_tcp_without_insecure_is_refused_before_anything_starts(self):
        p = self.run_docker(ENGINE.env(ENGINE.good, verify=None), "--docker-storage", "volume", check=2)
        for word in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "--insecure"):
            self.assertIn(word, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out", "results.json")))

    def test_a_missing_key_names_the_file(self):
        os.remove(os.path.join(ENGINE.unknown_client, "key.pem"))
        p = self.run_docker(ENGINE.env(ENGINE.unknown_client), "--docker-storage", "volume", check=2)
        self.assertIn(os.path.join(ENGINE.unknown_client, "key.pem") + " is missing", p.stderr)

    def test_doctor_reports_the_tls_engine(self):
        env = ENGINE.env(ENGINE.good)
        env["DOCKER_HOST"] = ENGINE.host
        p = vbtest.run("doctor", env=env)
        self.assertRegex(p.stdout + p.stderr, r"engine \S+ \(API [0-9.]+\) answers at tcp://127\.0\.0\.1:%d \(TLS\)"
                         % ENGINE.port)


if __name__ == "__main__":
    vbtest.main()
