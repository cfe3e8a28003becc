"""The results store in PostgreSQL (--db postgresql://...), against a real PostgreSQL 15
cluster that the test makes in a temporary directory: initdb (as the postgres OS user when
run as root: initdb refuses root), a Unix socket in that directory and 127.0.0.1 at a free
port with scram-sha-256 password authentication, a role and a database, the password in a
PGPASSFILE (mode 0600). Two runs writing at once both land; history, --add, --host-name,
--by host; compare --against last takes the candidate's host unless --any-host; a wrong
password and a password in the URL are one clear line, exit 2, nothing written.
tools/test.d/30-postgres checks the server is installed and stops a cluster a killed
run of this test left."""
import copy
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

DATA = os.environ.get("VIRTBENCH_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "data")
RESULTS = os.path.join(DATA, "results")
PG_BIN = "/usr/lib/postgresql/15/bin"
ROLE, DATABASE, PASSWORD = "vbtest", "vbstore", "Vb-s3cret-PW"

SUITE = vbtest.CPU_SUITE.replace("iterations = 3", "iterations = 2")  # two experiments, 2 × 1 s each


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL 15 cluster in /tmp/vbtest-pg-* (tools/test.d/30-postgres stops a stale one)."""

    def __init__(self):
        for tool in ("initdb", "pg_ctl", "psql"):
            path = os.path.join(PG_BIN, tool)
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{path} missing: tools/setup installs postgresql-15")
        self.dir = tempfile.mkdtemp(prefix="vbtest-pg-", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)

    def tool(self, name, *args):
        p = subprocess.run([*self.as_postgres, os.path.join(PG_BIN, name), *args], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            log = os.path.join(self.dir, "server.log")
            tail = open(log).read()[-3000:] if os.path.exists(log) else ""
            raise AssertionError(f"{name} {' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}\n{tail}")
        return p.stdout

    def start(self):
        self.tool("initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                  "--no-sync", "-E", "UTF8")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                    "fsync = off\nshared_buffers = 16MB\n")
        self.tool("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "30", "start")
        self.started = True
        self.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        self.sql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def sql(self, statement, database="postgres"):
        """Runs SQL as the superuser over the Unix socket; returns psql's unaligned output."""
        return self.tool("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p",
                         str(self.port), "-U", "postgres", "-d", database, "-c", statement).strip()

    def passfile(self, name, password, database=DATABASE):
        path = os.path.join(self.dir, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(f"127.0.0.1:{self.port}:{database}:{ROLE}:{password}\n")
        return path

    def stop(self):
        if self.started:
            subprocess.run([*self.as_postgres, os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "stop", "-m",
                            "immediate"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        cls.addClassCleanup(cls.cluster.stop)  # also when start() fails
        started = time.monotonic()
        cls.cluster.start()
        cls.startup_s = time.monotonic() - started
        cls.url = f"postgresql://{ROLE}@127.0.0.1:{cls.cluster.port}/{DATABASE}"
        cls.env = dict(os.environ, PGPASSFILE=cls.cluster.passfile("pgpass", PASSWORD))
        cls.env.pop("PGPASSWORD", None)
        cls.wrong_env = dict(cls.env, PGPASSFILE=cls.cluster.passfile("pgpass-wrong", "not-the-password"))

    def setUp(self):
        self.tmp = vbtest.temp_dir()
        self.suite = os.path.join(self.tmp, "cpu-pair.toml")
        with open(self.suite, "w") as f:
            f.write(SUITE)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def vb(self, *args, check=None, env=None):
        return vbtest.run(*args, check=check, env=env or self.env, timeout=120)

    def count(self, table):
        return int(self.cluster.sql(f"SELECT count(*) FROM {table}", DATABASE))

    def write(self, name, doc):
        return vbtest.write_results(self.tmp, name, doc)

    def run_args(self, n, out=None):
        return ["--data-dir", os.path.join(self.tmp, f"data{n}"), "run", "--suite", self.suite, "--platform",
                "native", "--out", out or os.path.join(self.tmp, f"run{n}"), "--db", self.url]

    def assert_one_line(self, p, *expected):
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        for text in expected:
            self.assertIn(text, lines[0])
        self.assertNotIn(PASSWORD, p.stderr + p.stdout)

    def test_a_fleet_store(self):
        # Bad input first, while the database is empty: nothing may be written.
        out_bad = os.path.join(self.tmp, "bad")
        p = self.vb(*self.run_args(9, out_bad), check=2, env=self.wrong_env)
        self.assert_one_line(p, self.url, "password authentication failed", "~/.pgpass")
        self.assertFalse(os.path.exists(out_bad), "a run refused for its store wrote its results directory")
        p = self.vb("history", "--db", self.url, "--add", os.path.join(RESULTS, "native-a"), check=2,
                    env=self.wrong_env)
        self.assert_one_line(p, self.url, "PGPASSFILE")
        with_password = f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{self.cluster.port}/{DATABASE}"
        for db in (with_password, self.url + "?password=" + PASSWORD):
            p = self.vb("history", "--db", db, "--add", os.path.join(RESULTS, "native-a"), check=2)
            self.assert_one_line(p, "a password in the URL is refused", "~/.pgpass", "PGPASSFILE")
        no_db = self.url.rsplit("/", 1)[0] + "/nosuchdb"
        p = self.vb("history", "--db", no_db, "--add", os.path.join(RESULTS, "native-a"), check=2,
                    env=dict(self.env, PGPASSFILE=self.cluster.passfile("pgpass-any", PASSWORD, "*")))
        self.assert_one_line(p, no_db, 'database "nosuchdb" does not exist', "createdb")
        p = self.vb("history", "--db", self.url, check=2)  # no tables yet: a clear line, none made
        self.assert_one_line(p, "holds no virtbench results yet")
        self.assertEqual(self.cluster.sql("SELECT to_regclass('runs') IS NULL", DATABASE), "t")

        # Two hosts' runs at once on a new database: both migrate it (one waits for the
        # other's advisory lock) and both runs land.
        started = time.monotonic()
        procs = [subprocess.Popen([vbtest.VIRTBENCH, *self.run_args(n)], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for n in (1, 2)]
        outs = [p.communicate(timeout=120) for p in procs]
        runs_s = time.monotonic() - started
        ids = []
        for p, (stdout, stderr) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, stderr)
            self.assertNotIn("warning", stderr)
            recorded = [l for l in stderr.splitlines() if l.startswith("history: recorded run ")]
            self.assertEqual(len(recorded), 1, stderr)
            self.assertTrue(recorded[0].endswith(" in " + self.url), recorded[0])
            ids.append(recorded[0].split()[3])
        self.assertNotEqual(ids[0], ids[1])
        self.assertEqual(self.count("runs"), 2)
        self.assertEqual(self.cluster.sql("SELECT version FROM schema_version", DATABASE), "2")
        p = self.vb("history", "--db", self.url, check=0)
        for run_id in ids:
            self.assertIn(run_id, p.stdout)
        self.assertEqual(p.stdout.splitlines()[0].split(),
                         ["started", "run", "id", "suite", "experiment", "platform", "metric", "n", "mean", "95%", "CI",
                          "CV", "virtbench", "host"])

        # history --add: another host's run (a fixture, renamed), twice: replaced, not doubled.
        here = vbtest.load(os.path.join(self.tmp, "run1"))["host"]["hostname"]
        other = vbtest.load(os.path.join(RESULTS, "native-a"))
        other["host"]["hostname"] = "bench-2"
        other_dir = self.write("bench-2", other)
        for _ in range(2):
            p = self.vb("history", "--db", self.url, "--add", other_dir, check=0)
            self.assertTrue(p.stdout.startswith("added ") and p.stdout.strip().endswith(" from " + other_dir), p.stdout)
        other_id = p.stdout.split()[1]
        self.assertEqual(self.count("runs"), 3)
        p = self.vb("history", "--db", self.url, "--host-name", "bench-2", check=0)
        listed = p.stdout.splitlines()[1:]
        self.assertTrue(listed and all(other_id in l and l.endswith("bench-2") for l in listed), p.stdout)
        p = self.vb("history", "--db", self.url, "--host-name", here, check=0)
        self.assertNotIn(other_id, p.stdout)
        self.assertTrue(all(i in p.stdout for i in ids), p.stdout)
        p = self.vb("history", "--db", self.url, "--by", "host", check=0)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["host", "platform", "experiment", "metric", "runs", "mean", "×native",
                                            "newest"])
        mine = [l.split() for l in lines[1:] if l.startswith(here + " ")]
        self.assertEqual([m[:3] for m in mine], [[here, "native", "cpu-large"], [here, "native", "cpu-small"]],
                         p.stdout)  # one platform, two experiments, their headline metric
        self.assertTrue(all(m[-4] == "2" for m in mine), p.stdout)  # runs
        self.assertTrue(all(m[-2] == "–" for m in mine), p.stdout)  # native has no ×native
        self.assertEqual(len([l for l in lines[1:] if l.startswith("bench-2 ")]), 4, p.stdout)  # four experiments

        # compare --against last: a later run here (a copy of run 1, started later) takes the
        # newer of the two runs, not another host's run started after both; --any-host takes that.
        docs = [vbtest.load(os.path.join(self.tmp, f"run{n}")) for n in (1, 2)]
        newer = 0 if (docs[0]["started_at"], ids[0]) > (docs[1]["started_at"], ids[1]) else 1
        later = copy.deepcopy(docs[0])
        later["started_at"] = "2030-01-01T00:00:02Z"
        cand_dir = self.write("later", later)
        elsewhere = copy.deepcopy(docs[0])
        elsewhere["host"]["hostname"] = "bench-3"
        elsewhere["started_at"] = "2030-01-01T00:00:01Z"
        p = self.vb("history", "--db", self.url, "--add", self.write("bench-3", elsewhere), check=0)
        elsewhere_id = p.stdout.split()[1]
        p = self.vb("compare", cand_dir, "--against", "last", "--db", self.url)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertIn(f"history run {ids[newer]} (--against last)", p.stdout)
        p = self.vb("compare", cand_dir, "--against", "last", "--any-host", "--db", self.url)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertIn(f"history run {elsewhere_id} (--against last)", p.stdout)
        p = self.vb("compare", os.path.join(RESULTS, "native-b"), "--against", "last", "--db", self.url, check=2)
        self.assert_one_line(p, 'on host "vm"', "--any-host")  # native-b's host; no run of it in the store

        # The same data as the SQLite store: the same runs added there list the same.
        sqlite_db = os.path.join(self.tmp, "history.sqlite")
        self.vb("history", "--db", sqlite_db, "--add", other_dir, "--add", os.path.join(self.tmp, "run1"), check=0)

        def listed(db, *args, run_id=None):
            # Fields, not padded lines: the columns' widths follow every row listed, and the
            # PostgreSQL store holds more runs than this SQLite one when run_id picks one.
            lines = self.vb("history", "--db", db, *args, check=0).stdout.splitlines()
            return [l.split() if run_id else l for l in lines if run_id is None or run_id in l]
        for args in (["--metric", "p95"], ["--by", "host"], []):
            self.assertEqual(listed(sqlite_db, "--host-name", "bench-2", *args),
                             listed(self.url, "--host-name", "bench-2", *args), args)
        for args in (["--metric", "p95"], ["--metric", "latency_ms.max"], []):
            self.assertEqual(listed(sqlite_db, *args, run_id=ids[0]), listed(self.url, *args, run_id=ids[0]), args)

        # Wrong password against the populated store: exit 2, nothing added.
        before = self.count("runs")
        p = self.vb("history", "--db", self.url, "--add", os.path.join(RESULTS, "native-b"), check=2,
                    env=self.wrong_env)
        self.assert_one_line(p, self.url, "password authentication failed")
        self.assertEqual(self.count("runs"), before)
        print(f"cluster start {self.startup_s:.1f} s, two concurrent runs {runs_s:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    vbtest.main()
