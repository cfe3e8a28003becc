#!/usr/bin/env python3
"""Records the raw bytes of a real QMP and guest-agent session, for the unit tests.

usage: record.py [IMAGE_DIR]   (default /var/lib/virtbench/image)

Boots the virtbench guest image under TCG exactly as the qemu driver does (qcow2 overlay,
direct kernel boot, -qmp unix:, a virtio-serial port named org.qemu.guest_agent.0), then
writes, next to tests/data/qmp/ and tests/data/qga/:

  qmp/<ver>/session.in   every byte QEMU sent on the QMP socket (greeting, replies, events)
  qmp/<ver>/session.out  every byte sent to it (qmp_capabilities, query-*, stop, cont, quit)
  qga/<ver>/session.in   every byte the guest agent sent (0xFF delimiters included)
  qga/<ver>/session.out  every byte sent to it

<ver> is QEMU's major.minor. Everything runs in a private temp dir, removed at the end.
"""
import base64, json, os, shutil, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
KERNEL_APPEND = "console=ttyS0 root=/dev/vda rw init=/sbin/virtbench-init quiet panic=-1"


class Recorder:
    def __init__(self, path):
        self.path, self.inb, self.outb, self.buf = path, bytearray(), bytearray(), b""
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)

    def send(self, data):
        self.outb += data
        self.s.sendall(data)

    def line(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.path)
            self.inb += chunk
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.s.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.inb += chunk
            self.buf += chunk


def qmp(r, cmd, args=None, cid=None):
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    if cid is not None:
        msg["id"] = cid
    r.send(json.dumps(msg).encode() + b"\r\n")
    while True:
        m = json.loads(r.line())
        if "return" in m or "error" in m:
            return m


def qga(r, cmd, args=None, cid=None):
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    if cid is not None:
        msg["id"] = cid
    r.send(json.dumps(msg).encode() + b"\n")
    while True:
        line = r.line().strip().lstrip(b"\xff")
        if line:
            return json.loads(line)


def main():
    img = sys.argv[1] if len(sys.argv) > 1 else "/var/lib/virtbench/image"
    ver = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.split()[3]
    ver = ".".join(ver.split(".")[:2])
    tmp = tempfile.mkdtemp(prefix="vb-record.")
    proc = None
    try:
        overlay = os.path.join(tmp, "overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.join(img, "base.qcow2"),
                        "-F", "qcow2", overlay], check=True)
        qmp_path, qga_path = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "qga.sock")
        proc = subprocess.Popen(["qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-cpu", "max",
                                 "-smp", "2", "-m", "1024", "-nodefaults", "-display", "none", "-no-reboot",
                                 "-kernel", os.path.join(img, "vmlinuz"), "-initrd", os.path.join(img, "initrd.img"),
                                 "-append", KERNEL_APPEND,
                                 "-drive", f"file={overlay},if=virtio,format=qcow2,cache=none,aio=native",
                                 "-serial", "file:" + os.path.join(tmp, "console.log"),
                                 "-device", "virtio-serial-pci",
                                 "-chardev", f"socket,id=qga0,path={qga_path},server=on,wait=off",
                                 "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
                                 "-qmp", f"unix:{qmp_path},server=on,wait=off", "-nic", "none"],
                                start_new_session=True)
        while not (os.path.exists(qmp_path) and os.path.exists(qga_path)):
            time.sleep(0.05)
        q = Recorder(qmp_path)
        q.line()  # greeting
        qmp(q, "qmp_capabilities", cid=1)
        qmp(q, "query-status", cid=2)
        qmp(q, "query-kvm", cid=3)
        qmp(q, "query-version", cid=4)
        qmp(q, "no-such-command", cid=5)

        a = Recorder(qga_path)
        sync_id = 1000
        while True:  # until the guest's agent is up
            a.send(b"\xff" + json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode() + b"\n")
            try:
                while True:
                    line = a.line(timeout=1).split(b"\xff")[-1].strip()
                    if line and json.loads(line).get("return") == sync_id:
                        break
                break
            except socket.timeout:
                sync_id += 1
        qga(a, "guest-ping", cid=7)
        qga(a, "guest-info")
        r = qga(a, "guest-exec", {"path": "sh", "arg": ["-c", "echo out; echo err >&2; exit 3"], "capture-output": True}, cid=8)
        pid = r["return"]["pid"]
        while not qga(a, "guest-exec-status", {"pid": pid})["return"]["exited"]:
            time.sleep(0.05)
        r = qga(a, "guest-exec", {"path": "sleep", "arg": ["0.5"], "capture-output": True})
        pid = r["return"]["pid"]
        while not qga(a, "guest-exec-status", {"pid": pid})["return"]["exited"]:
            time.sleep(0.2)
        h = qga(a, "guest-file-open", {"path": "/proc/stat", "mode": "r"})["return"]
        while True:
            rr = qga(a, "guest-file-read", {"handle": h, "count": 65536})["return"]
            if rr.get("eof") or rr.get("count") == 0:
                break
        qga(a, "guest-file-close", {"handle": h})
        qga(a, "guest-file-open", {"path": "/no/such/file", "mode": "r"})
        qga(a, "guest-exec", {"path": "/no/such/binary", "capture-output": True})

        qmp(q, "stop", cid=6)
        q.drain(0.5)
        qmp(q, "cont", cid=7)
        q.drain(0.5)
        qmp(q, "quit", cid=8)
        q.drain(3)
        proc.wait(timeout=30)
        for sub, rec in (("qmp", q), ("qga", a)):
            d = os.path.join(DATA, sub, ver)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "session.in"), "wb") as f:
                f.write(rec.inb)
            with open(os.path.join(d, "session.out"), "wb") as f:
                f.write(rec.outb)
            print(f"recorded {d}/session.in ({len(rec.inb)} bytes) and session.out ({len(rec.outb)} bytes)")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
