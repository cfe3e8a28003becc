#!/usr/bin/env python3
"""Boot a virtbench guest image under QEMU and check that its guest agent works.

usage: boot-check.py IMAGE_DIR [--accel tcg|kvm] [--no-scratch] [--timeout S]
                            [--console FILE] [--verbose]

IMAGE_DIR holds vmlinuz, initrd.img and base.qcow2 (and manifest.json) as made
by guest-images/build.sh.  The check:

  1. creates a private 0700 temp dir with a qcow2 overlay on base.qcow2, a
     512 MiB ext4 scratch disk (virtio, /dev/vdb in the guest) and the sockets;
  2. starts qemu-system-x86_64 with direct kernel boot, a QMP socket and a
     virtio-serial port named org.qemu.guest_agent.0;
  3. talks to the agent: guest-sync-delimited (after a 0xFF byte), guest-ping,
     guest-exec of /usr/bin/sysbench --version (compared with the manifest),
     guest-file-open/read/close of /proc/stat, mounting the scratch disk on
     /mnt, then guest-shutdown, and waits for QEMU to exit by itself.

Prints the seconds from QEMU's start to the agent's first answer.  Exits 0 on
success, 1 on failure (printing the last 20 console lines), 2 on bad usage.
QEMU is killed and the temp dir (overlay, scratch disk, sockets) removed in
every case.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

AGENT_PORT_NAME = "org.qemu.guest_agent.0"
KERNEL_APPEND = "console=ttyS0 root=/dev/vda rw init=/sbin/virtbench-init quiet panic=-1"


class CheckError(Exception):
    pass


class Agent:
    """Minimal QEMU guest agent client over the host side of virtio-serial."""

    def __init__(self, path, verbose=False):
        self.path = path
        self.verbose = verbose
        self.sock = None
        self.buf = b""

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        self.sock = s

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def _send(self, obj, raw_prefix=b""):
        data = raw_prefix + json.dumps(obj).encode() + b"\n"
        if self.verbose:
            print(">>", data, file=sys.stderr)
        self.sock.sendall(data)

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CheckError("agent socket closed by QEMU")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if self.verbose:
            print("<<", line[:300], file=sys.stderr)
        return line

    def sync(self, sync_id, timeout):
        """guest-sync-delimited: returns True once the agent answered with our id."""
        self.buf = b""
        self._send({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}},
                   raw_prefix=b"\xff")
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(deadline)
            # The agent puts 0xFF before its answer; drop anything before it.
            if b"\xff" in line:
                line = line.rsplit(b"\xff", 1)[1]
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("return") == sync_id:
                return True

    def cmd(self, execute, arguments=None, timeout=30.0):
        req = {"execute": execute}
        if arguments is not None:
            req["arguments"] = arguments
        self._send(req)
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(deadline).strip().lstrip(b"\xff")
            if not line:
                continue
            msg = json.loads(line)
            if "error" in msg:
                raise CheckError("%s failed: %s" % (execute, msg["error"]))
            if "return" in msg:
                return msg["return"]

    def exec(self, argv, timeout=60.0):
        r = self.cmd("guest-exec", {"path": argv[0], "arg": argv[1:],
                                    "capture-output": True})
        pid = r["pid"]
        deadline = time.monotonic() + timeout
        while True:
            st = self.cmd("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                return st.get("exitcode"), out, err
            if time.monotonic() > deadline:
                raise CheckError("guest-exec %s did not finish in %ss" % (argv, timeout))
            time.sleep(0.05)

    def read_file(self, path):
        h = self.cmd("guest-file-open", {"path": path, "mode": "r"})
        data = b""
        try:
            while True:
                r = self.cmd("guest-file-read", {"handle": h, "count": 65536})
                data += base64.b64decode(r.get("buf-b64", ""))
                if r.get("eof") or r.get("count", 0) == 0:
                    break
        finally:
            self.cmd("guest-file-close", {"handle": h})
        return data


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").replace("\r", "").splitlines()
        return lines[-n:]
    except OSError:
        return ["(no console log)"]


def main():
    ap = argparse.ArgumentParser(description="Boot a virtbench guest image and ping its agent.")
    ap.add_argument("image_dir")
    ap.add_argument("--accel", default="tcg", help="QEMU accelerator (default tcg)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds to wait for the agent's first answer (default 120)")
    ap.add_argument("--no-scratch", action="store_true", help="skip the scratch disk check")
    ap.add_argument("--console", metavar="FILE",
                    help="also copy the guest's serial console log to FILE")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    img = os.path.abspath(args.image_dir)
    for name in ("vmlinuz", "initrd.img", "base.qcow2"):
        if not os.path.isfile(os.path.join(img, name)):
            print("boot-check: %s missing in %s (run guest-images/build.sh first)"
                  % (name, img), file=sys.stderr)
            return 2
    manifest = {}
    try:
        with open(os.path.join(img, "manifest.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        pass

    # mkdtemp makes a private 0700 dir; keep socket paths short (108 bytes max)
    base = None if len(tempfile.gettempdir()) < 60 else "/tmp"
    tmp = tempfile.mkdtemp(prefix="vb-boot-check.", dir=base)
    os.chmod(tmp, 0o700)
    overlay = os.path.join(tmp, "overlay.qcow2")
    scratch = os.path.join(tmp, "scratch.raw")
    qga_path = os.path.join(tmp, "qga.sock")
    qmp_path = os.path.join(tmp, "qmp.sock")
    console = os.path.join(tmp, "console.log")
    proc = None
    agent = None
    qemu_log = None
    ok = False
    failure = None
    console_tail = []
    old_handlers = {}

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    for s in (signal.SIGTERM, signal.SIGHUP):
        old_handlers[s] = signal.signal(s, on_signal)

    try:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        os.path.join(img, "base.qcow2"), "-F", "qcow2", overlay],
                       check=True)
        drives = ["-drive", "file=%s,if=virtio,format=qcow2" % overlay]
        if not args.no_scratch:
            subprocess.run(["truncate", "-s", "512M", scratch], check=True)
            # initialise everything now, so ext4lazyinit does not write in the guest
            subprocess.run(["mke2fs", "-q", "-t", "ext4", "-F",
                            "-E", "lazy_itable_init=0,lazy_journal_init=0", scratch],
                           check=True)
            drives += ["-drive", "file=%s,if=virtio,format=raw" % scratch]
        qemu = ["qemu-system-x86_64", "-accel", args.accel,
                "-machine", "q35", "-cpu", "max", "-smp", "2", "-m", "2048",
                "-nodefaults", "-nographic", "-no-reboot",
                "-kernel", os.path.join(img, "vmlinuz"),
                "-initrd", os.path.join(img, "initrd.img"),
                "-append", KERNEL_APPEND,
                ] + drives + [
                "-serial", "file:" + console,
                "-device", "virtio-serial-pci",
                "-chardev", "socket,id=qga0,path=%s,server=on,wait=off" % qga_path,
                "-device", "virtserialport,chardev=qga0,name=" + AGENT_PORT_NAME,
                "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
                "-nic", "none"]
        if args.verbose:
            print(" ".join(qemu), file=sys.stderr)
        t0 = time.monotonic()
        qemu_log = open(os.path.join(tmp, "qemu.log"), "w+b")
        proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL,
                                stdout=qemu_log, stderr=subprocess.STDOUT,
                                start_new_session=True)

        # Wait for the agent: connect, then guest-sync-delimited until answered.
        deadline = t0 + args.timeout
        agent = Agent(qga_path, args.verbose)
        sync_id = 123
        while True:
            if proc.poll() is not None:
                qemu_log.seek(0)
                raise CheckError("QEMU exited early (status %s): %s" % (
                    proc.returncode, qemu_log.read().decode(errors="replace").strip()))
            if time.monotonic() > deadline:
                raise CheckError("no answer from the guest agent within %.0fs" % args.timeout)
            try:
                if agent.sock is None:
                    agent.connect()
                if agent.sync(sync_id, timeout=0.25):
                    break
            except (FileNotFoundError, ConnectionRefusedError):
                agent.close()
                time.sleep(0.1)
            except socket.timeout:
                sync_id += 1  # the guest may not be listening yet; ask again
        t_agent = time.monotonic() - t0
        print("boot-check: first agent answer after %.2f s" % t_agent)

        agent.cmd("guest-ping")
        info = agent.cmd("guest-info")
        print("boot-check: qemu-ga %s" % info.get("version"))

        code, out, err = agent.exec(["/usr/bin/sysbench", "--version"])
        if code != 0:
            raise CheckError("sysbench --version exited %s: %s" % (code, err))
        print("boot-check: guest says: %s" % out.strip())
        want = manifest.get("sysbench_version")
        if want and want not in out:
            raise CheckError("sysbench version %r not in %r" % (want, out))

        stat = agent.read_file("/proc/stat").decode()
        if not stat.startswith("cpu "):
            raise CheckError("unexpected /proc/stat: %r" % stat[:80])
        print("boot-check: /proc/stat: %s" % stat.splitlines()[0])

        if not args.no_scratch:
            code, out, err = agent.exec(["mount", "/dev/vdb", "/mnt"])
            if code != 0:
                raise CheckError("mount /dev/vdb /mnt exited %s: %s" % (code, err.strip()))
            code, out, err = agent.exec(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "/mnt"])
            print("boot-check: scratch disk: %s" % out.strip())

        t_sd = time.monotonic()
        agent._send({"execute": "guest-shutdown"})  # no answer on success
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise CheckError("QEMU still running 30 s after guest-shutdown")
        print("boot-check: guest powered off %.2f s after guest-shutdown (QEMU status %d)"
              % (time.monotonic() - t_sd, proc.returncode))
        if proc.returncode != 0:
            raise CheckError("QEMU exited with status %d" % proc.returncode)
        ok = True
    except CheckError as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"
    except Exception as e:  # anything else: report it, but still clean up
        failure = "%s: %s" % (type(e).__name__, e)
    finally:
        # Clean up first, print afterwards (printing can fail, e.g. on a
        # closed pipe, and must not leave QEMU or the temp dir behind).
        if agent:
            agent.close()
        if proc and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        console_tail = tail(console) if not ok else []
        if args.console:
            try:
                shutil.copyfile(console, args.console)
            except OSError as e:
                console_tail.append("(cannot copy the console log to %s: %s)" % (args.console, e))
        if qemu_log:
            qemu_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        for s, h in old_handlers.items():
            signal.signal(s, h)
    if not ok:
        try:
            print("boot-check: FAILED: %s" % (failure or "unknown error"), file=sys.stderr)
            print("boot-check: last console lines:", file=sys.stderr)
            for line in console_tail:
                print("  | " + line, file=sys.stderr)
        except OSError:
            pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
