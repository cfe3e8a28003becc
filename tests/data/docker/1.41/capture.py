#!/usr/bin/env python3
"""Records the Engine API responses the docker driver's unit tests are fed with.

Usage: capture.py SOCKET IMAGE_TAG [FILE...]   (an engine answering on SOCKET with IMAGE_TAG
imported, e.g. a private `dockerd -H unix://SOCKET` and virtbench's guest image). Writes into
this script's folder (only the FILEs named, when some are: the others keep their recorded
bytes); every file is a response body exactly as the engine sent it (after HTTP chunked
decoding, which libcurl does too), and errors carry their HTTP status in the name.
"""
import http.client
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOCK, IMAGE = sys.argv[1], sys.argv[2]
ONLY = set(sys.argv[3:])


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(method, path, body=None, headers=None):
    c = UnixHTTPConnection(SOCK)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    h = {"Content-Type": "application/json"} if isinstance(body, (dict, list)) else {}
    h.update(headers or {})
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, raw


def save(name, raw):
    if ONLY and name not in ONLY:
        return
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(raw)
    print(f"{name}: {len(raw)} bytes", file=sys.stderr)


def ok(status, raw, expected):
    if status != expected:
        sys.exit(f"unexpected HTTP {status}: {raw[:300]!r}")
    return raw


save("version.json", ok(*call("GET", "/version"), 200))
save("info.json", ok(*call("GET", "/v1.41/info"), 200))
save("image-inspect.json", ok(*call("GET", f"/v1.41/images/{IMAGE}/json"), 200))
LABEL_FILTER = "%7B%22label%22%3A%5B%22virtbench.run%22%5D%7D"  # {"label":["virtbench.run"]}
save("volumes-by-label-none.json", ok(*call("GET", f"/v1.41/volumes?filters={LABEL_FILTER}"), 200))
volume = {"Name": "virtbench-capture", "Labels": {"virtbench.run": "capture", "virtbench.pid": "1"}}
save("volume-create.json", ok(*call("POST", "/v1.41/volumes/create", volume), 201))
try:
    save("volumes-by-label.json", ok(*call("GET", f"/v1.41/volumes?filters={LABEL_FILTER}"), 200))
finally:
    call("DELETE", "/v1.41/volumes/virtbench-capture?force=1")
# A container killed by the OOM killer (tail holds its whole input): what the driver reads
# after an exec ended with 137.
oom = {"Image": IMAGE, "Cmd": ["sh", "-c", "head -c 256M /dev/zero | tail"], "Labels": {"virtbench.run": "capture"},
       "HostConfig": {"NetworkMode": "none", "Memory": 16 << 20, "MemorySwap": 16 << 20}}
oid = json.loads(ok(*call("POST", "/v1.41/containers/create?name=virtbench-capture-oom", oom), 201))["Id"]
try:
    ok(*call("POST", f"/v1.41/containers/{oid}/start"), 204)
    ok(*call("POST", f"/v1.41/containers/{oid}/wait"), 200)
    save("container-inspect-oom-killed.json", ok(*call("GET", f"/v1.41/containers/{oid}/json"), 200))
finally:
    call("DELETE", f"/v1.41/containers/{oid}?force=1&v=1")
create = {"Image": IMAGE, "Cmd": ["sleep", "infinity"], "Labels": {"virtbench.run": "capture"},
          "StopSignal": "SIGKILL", "HostConfig": {"NetworkMode": "none", "NanoCpus": 1000000000,
                                                   "Memory": 1 << 30}}
raw = ok(*call("POST", "/v1.41/containers/create?name=virtbench-capture", create), 201)
save("container-create.json", raw)
cid = json.loads(raw)["Id"]
try:
    ok(*call("POST", f"/v1.41/containers/{cid}/start"), 204)
    save("container-inspect.json", ok(*call("GET", f"/v1.41/containers/{cid}/json"), 200))

    def exec_(cmd, name):
        raw = ok(*call("POST", f"/v1.41/containers/{cid}/exec",
                       {"AttachStdout": True, "AttachStderr": True, "Cmd": cmd}), 201)
        save(f"exec-create-{name}.json", raw)
        eid = json.loads(raw)["Id"]
        save(f"exec-start-{name}.bin", ok(*call("POST", f"/v1.41/exec/{eid}/start", {"Detach": False, "Tty": False}), 200))
        save(f"exec-inspect-{name}.json", ok(*call("GET", f"/v1.41/exec/{eid}/json"), 200))

    # stdout and stderr interleaved, a line too long for one read, and exit code 3.
    exec_(["sh", "-c", "echo out1; echo err1 >&2; echo out2; seq 1 20000; echo err2 >&2; exit 3"], "interleaved")
    exec_(["sysbench", "cpu", "--cpu-max-prime=2000", "--time=1", "run"], "sysbench")
    exec_(["sha256sum", "/usr/bin/sysbench"], "sha256sum")
    save("stats-oneshot.json", ok(*call("GET", f"/v1.41/containers/{cid}/stats?stream=false&one-shot=true"), 200))
    save("containers-by-label.json", ok(*call("GET", f"/v1.41/containers/json?all=1&filters={LABEL_FILTER}"), 200))
    ok(*call("POST", f"/v1.41/containers/{cid}/pause"), 204)
    save("error-409-pause-paused.json", ok(*call("POST", f"/v1.41/containers/{cid}/pause"), 409))
    save("error-409-exec-paused.json", ok(*call("POST", f"/v1.41/containers/{cid}/exec", {"Cmd": ["true"]}), 409))
    ok(*call("POST", f"/v1.41/containers/{cid}/unpause"), 204)
    save("error-404-no-such-container.json", ok(*call("GET", "/v1.41/containers/no-such-container/json"), 404))
    save("error-404-no-such-image.json", ok(*call("GET", "/v1.41/images/virtbench/no-such-image:0/json"), 404))
    save("error-400-bad-create.json", ok(*call("POST", "/v1.41/containers/create", {"Image": IMAGE, "HostConfig": {"NanoCpus": -5}}), 400))
    # An import of something that is not a tar archive.
    save("error-500-import-garbage.json", ok(*call("POST", "/v1.41/images/create?fromSrc=-&repo=virtbench/garbage&tag=0",
                                                   b"this is not a tar archive\n" * 100, {"Content-Type": "application/x-tar"}), 500))
finally:
    call("DELETE", f"/v1.41/containers/{cid}?force=1&v=1")
