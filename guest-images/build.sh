#!/bin/bash
# guest-images/build.sh OUTDIR
#
# Builds the virtbench guest images from Debian packages, using the host's own
# apt source (read from /etc/apt/sources.list and /etc/apt/sources.list.d/;
# no mirror is written into this recipe).  OUTDIR must be an existing, empty
# directory; the script writes only there and into a temp dir it removes on
# exit.  Outputs:
#
#   OUTDIR/vmlinuz        kernel for direct boot (-kernel)
#   OUTDIR/vmlinux        the same kernel uncompressed (ELF), booted through its
#                         PVH entry point (optional: only for LZ4-compressed kernels)
#   OUTDIR/initrd.img     initramfs: klibc tools, the virtio modules and init as
#                         /init, which mounts root=/dev/vda and runs init= on it
#   OUTDIR/base.qcow2     ext4 root filesystem (root=/dev/vda), made with
#                         mke2fs -d + qemu-img convert: no loop mounts
#   OUTDIR/rootfs.tar     the same root filesystem for Docker's image import
#                         (POST /images/create?fromSrc=-); no /boot, /proc,
#                         /sys, /dev contents
#   OUTDIR/manifest.json  recipe hash, packages, sysbench sha256, file digests
#
# Must run as root (debootstrap, chroot).  Environment (all optional):
#   VIRTBENCH_RECIPE_HASH  recipe hash to record (default: sha256 of the
#                          output of `sha256sum packages.txt init build.sh`)
#   VIRTBENCH_MIRROR, VIRTBENCH_SUITE
#                          override the mirror URI / suite read from apt
#   VIRTBENCH_DEBOOTSTRAP_CACHE
#                          absolute dir for debootstrap --cache-dir (reuses
#                          downloaded .debs between builds)
#   VIRTBENCH_VERBOSE=1    show debootstrap's output as it runs
#   TMPDIR                 where the temp dir goes (default /var/tmp; needs
#                          device nodes, so not a nodev mount)

set -Eeuo pipefail
umask 022
export LC_ALL=C
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=build.sh
STEP="start"
WORK=""
T_START=$(date +%s)

say()  { echo "==> $*" >&2; STEP="$*"; }
info() { echo "    $*" >&2; }
die()  { echo "$PROG: error: $*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $PROG OUTDIR
Builds vmlinuz, initrd.img, base.qcow2, rootfs.tar and manifest.json into
OUTDIR (an existing, empty directory). Run as root.
EOF
    exit 2
}

# ---------------------------------------------------------------- cleanup ---
cleanup() {
    local rc=$?
    trap - ERR
    set +e
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        # debootstrap mounts /proc, /sys (and in containers binds /dev) inside
        # the target; an interrupted run can leave them mounted.  Unmount
        # everything below WORK before deleting, innermost first.
        local m
        awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null; done
        rm -rf --one-file-system "$WORK"
    fi
    if [ $rc -ne 0 ] && [ "$STEP" != start ]; then
        echo "$PROG: FAILED at step: $STEP (exit status $rc)" >&2
        local d avail
        for d in "$OUTDIR_ABS" "${TMPBASE:-}"; do
            [ -n "$d" ] && [ -d "$d" ] || continue
            avail=$(df -P -k "$d" 2>/dev/null | awk 'NR==2 { print $4 }')
            if [ -n "$avail" ] && [ "$avail" -lt 262144 ]; then
                echo "$PROG: the filesystem holding $d has only $((avail / 1024)) MiB free:" \
                     "the disk is probably full; free some space (about 2 GiB) and retry" >&2
            fi
        done
        if [ "$OUTPUTS_STARTED" = 1 ] && [ -n "$(ls -A "$OUTDIR_ABS" 2>/dev/null)" ]; then
            echo "$PROG: $OUTDIR_ABS holds partial output; empty it before retrying" >&2
        fi
    fi
    exit $rc
}
on_err() { echo "$PROG: command failed (status $1) at line $2: $3" >&2; }
OUTDIR_ABS=""
TMPBASE=""
OUTPUTS_STARTED=0
trap cleanup EXIT
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# ------------------------------------------------------------------ checks ---
[ $# -eq 1 ] || usage
case $1 in -h|--help) usage ;; esac

STEP="checking prerequisites"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it): sudo $0 $1"
[ -d "$1" ] || die "OUTDIR '$1' does not exist; create an empty directory first (mkdir -p '$1')"
OUTDIR_ABS=$(cd "$1" && pwd)
[ -z "$(ls -A "$OUTDIR_ABS")" ] || die "OUTDIR '$OUTDIR_ABS' is not empty; give an empty directory"
[ -w "$OUTDIR_ABS" ] || die "OUTDIR '$OUTDIR_ABS' is not writable"

need_tool() { # need_tool COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install it: apt-get install $2"
}
need_tool debootstrap debootstrap
need_tool wget wget
need_tool mke2fs e2fsprogs
need_tool qemu-img qemu-utils
need_tool python3 python3
need_tool tar tar
need_tool chroot coreutils
need_tool sha256sum coreutils
need_tool dpkg-query dpkg
case $(mke2fs 2>&1 || true) in
    *"-d root-directory"*) ;;
    *) die "this mke2fs cannot populate an image (-d); install e2fsprogs >= 1.43" ;;
esac

for f in packages.txt init build.sh; do
    [ -r "$HERE/$f" ] || die "recipe file $HERE/$f is missing"
done

# Recipe hash (what `virtbench image build` computes and passes in): the sha256
# of `sha256sum packages.txt init build.sh`'s output, run in this directory.
if [ -n "${VIRTBENCH_RECIPE_HASH:-}" ]; then
    RECIPE_HASH=$VIRTBENCH_RECIPE_HASH
else
    RECIPE_HASH=$(cd "$HERE" && sha256sum packages.txt init build.sh | sha256sum | cut -d' ' -f1)
fi

# Package list: strip comments and blanks, join with commas.
PACKAGES=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/packages.txt" | grep -v '^$' | paste -sd, -)
[ -n "$PACKAGES" ] || die "$HERE/packages.txt lists no packages"
if printf '%s' "$PACKAGES" | tr ',' '\n' | grep -qvE '^[a-z0-9][a-z0-9.+-]+$'; then
    die "packages.txt has an invalid package name: $(printf '%s' "$PACKAGES" | tr ',' '\n' | grep -vE '^[a-z0-9][a-z0-9.+-]+$' | head -n1)"
fi

# ------------------------------------------------------- host apt source ---
say "reading the host's apt source"
# Prints: MIRROR SUITE KEYRING ORIGIN   (KEYRING "-" when none usable)
APT_SRC=$(python3 - <<'PY'
import glob, os, re, sys

def codename():
    try:
        for line in open("/etc/os-release"):
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""

host = codename()
known = {"stable", "oldstable", "oldoldstable", "testing", "unstable", "sid",
         "buster", "bullseye", "bookworm", "trixie", "forky", "duke"}
if host:
    known.add(host)
entries = []  # (uri, suites, components, signed_by, origin)

def one_line(path):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        opts = {}
        m = re.match(r"^(deb|deb-src)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m or m.group(1) != "deb":
            continue
        if m.group(2):
            for kv in m.group(2).strip()[1:-1].split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    opts[k.lower()] = v
        entries.append((m.group(3), [m.group(4)], m.group(5).split(),
                        opts.get("signed-by", ""), "%s:%d" % (path, n)))

def deb822(path):
    try:
        text = open(path).read()
    except OSError:
        return
    stanzas, cur, key = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
            continue
        if line[0] in " \t" and key:
            cur[key] += "\n" + line.strip()
            continue
        if ":" in line:
            key, val = line.split(":", 1)
            key = key.strip().lower()
            cur[key] = val.strip()
    for i, st in enumerate(stanzas, 1):
        if st.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in st.get("types", "").split():
            continue
        signed = st.get("signed-by", "")
        if "\n" in signed or "BEGIN PGP" in signed:
            signed = ""  # inline key: debootstrap cannot use it
        for uri in st.get("uris", "").split():
            entries.append((uri, st.get("suites", "").split(),
                            st.get("components", "").split(), signed,
                            "%s (stanza %d)" % (path, i)))

one_line("/etc/apt/sources.list")
for p in sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    one_line(p)
for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    deb822(p)

cands = []
for uri, suites, comps, signed, origin in entries:
    if "main" not in comps:
        continue
    for s in suites:
        if s in known:  # base suites only: not -updates, -security, -backports
            cands.append((0 if s == host else 1, uri.rstrip("/"), s, signed, origin))
if not cands:
    sys.exit("no 'deb' entry with a Debian base suite (%s) and component main found in "
             "/etc/apt/sources.list or /etc/apt/sources.list.d/*.list, *.sources"
             % (host or "bookworm"))
cands.sort(key=lambda c: c[0])
_, uri, suite, signed, origin = cands[0]
if not (signed.endswith(".gpg") and os.path.isfile(signed)):
    signed = "-"
print(uri, suite, signed, origin)
PY
) || die "could not find a Debian mirror in the host's apt configuration; fix /etc/apt/sources.list(.d) or set VIRTBENCH_MIRROR and VIRTBENCH_SUITE"
read -r MIRROR SUITE KEYRING APT_ORIGIN <<<"$APT_SRC"
if [ -n "${VIRTBENCH_MIRROR:-}" ]; then MIRROR=${VIRTBENCH_MIRROR%/}; APT_ORIGIN="VIRTBENCH_MIRROR"; KEYRING=-; fi
[ -n "${VIRTBENCH_SUITE:-}" ] && SUITE=$VIRTBENCH_SUITE
info "mirror $MIRROR, suite $SUITE (from $APT_ORIGIN)"
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] ||
    die "this debootstrap does not know suite '$SUITE'; upgrade it: apt-get install debootstrap"

# apt's proxy setting, for debootstrap's wget
if [ -z "${http_proxy:-}" ] && command -v apt-config >/dev/null; then
    eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy)"
    if [ -n "${APT_HTTP_PROXY:-}" ] && [ "$APT_HTTP_PROXY" != DIRECT ]; then
        export http_proxy=$APT_HTTP_PROXY
        info "using apt's HTTP proxy"
    fi
fi

say "checking that the mirror answers"
python3 - "$MIRROR/dists/$SUITE/Release" <<'PY' || die "mirror unreachable: cannot fetch $MIRROR/dists/$SUITE/Release; check the network (does 'apt-get update' work?) or set VIRTBENCH_MIRROR"
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
        if b"Suite:" not in r.read(4096):
            sys.exit("%s: not a Debian Release file" % sys.argv[1])
except Exception as e:
    sys.exit("%s: %s" % (sys.argv[1], e))
PY

# ------------------------------------------------------------- free space ---
say "checking free space"
TMPBASE=${TMPDIR:-/var/tmp}
[ -d "$TMPBASE" ] || die "temp base directory '$TMPBASE' does not exist (set TMPDIR)"
avail_mib() { df -P -k "$1" | awk 'NR==2 { print int($4 / 1024) }'; }
NEED_TMP=1536   # root fs (~0.5 GiB) + the raw ext4 image (~0.5 GiB allocated)
NEED_OUT=1024   # base.qcow2 + rootfs.tar (~0.45 GiB each) + kernel, initrd
if [ "$(stat -c %d "$TMPBASE")" = "$(stat -c %d "$OUTDIR_ABS")" ]; then
    need=$((NEED_TMP + NEED_OUT)); have=$(avail_mib "$OUTDIR_ABS")
    [ "$have" -ge "$need" ] ||
        die "not enough disk space: $have MiB free on the filesystem of $OUTDIR_ABS and $TMPBASE, need $need MiB; free some space or point TMPDIR elsewhere"
else
    have=$(avail_mib "$TMPBASE")
    [ "$have" -ge "$NEED_TMP" ] ||
        die "not enough disk space in $TMPBASE: $have MiB free, need $NEED_TMP MiB; free some space or set TMPDIR"
    have=$(avail_mib "$OUTDIR_ABS")
    [ "$have" -ge "$NEED_OUT" ] ||
        die "not enough disk space in $OUTDIR_ABS: $have MiB free, need $NEED_OUT MiB"
fi

WORK=$(mktemp -d "$TMPBASE/virtbench-image.XXXXXX")
chmod 0755 "$WORK"
ROOTFS=$WORK/rootfs
mkdir "$ROOTFS"
if awk -v d="$(df -P "$WORK" | awk 'NR==2 {print $6}')" '$2 == d && $4 ~ /(^|,)nodev(,|$)/ { f = 1 } END { exit !f }' /proc/mounts; then
    die "$TMPBASE is on a nodev mount, debootstrap cannot create device nodes there; set TMPDIR to another directory (e.g. /var/tmp)"
fi

# ------------------------------------------------------------ debootstrap ---
say "debootstrap --variant=minbase $SUITE (this takes a minute or two)"
DB_ARGS=(--variant=minbase "--include=$PACKAGES")
[ "$KEYRING" != "-" ] && DB_ARGS+=("--keyring=$KEYRING")
if [ -n "${VIRTBENCH_DEBOOTSTRAP_CACHE:-}" ]; then
    case $VIRTBENCH_DEBOOTSTRAP_CACHE in /*) ;; *) die "VIRTBENCH_DEBOOTSTRAP_CACHE must be an absolute path" ;; esac
    mkdir -p "$VIRTBENCH_DEBOOTSTRAP_CACHE"
    DB_ARGS+=("--cache-dir=$VIRTBENCH_DEBOOTSTRAP_CACHE")
fi
info "packages: $PACKAGES"
DB_LOG=$WORK/debootstrap.log
if [ "${VIRTBENCH_VERBOSE:-0}" = 1 ]; then
    db_rc=0; debootstrap "${DB_ARGS[@]}" "$SUITE" "$ROOTFS" "$MIRROR" 2>&1 | tee "$DB_LOG" >&2 || db_rc=$?
else
    db_rc=0; debootstrap "${DB_ARGS[@]}" "$SUITE" "$ROOTFS" "$MIRROR" >"$DB_LOG" 2>&1 || db_rc=$?
fi
if [ $db_rc -ne 0 ]; then
    echo "---- last lines of debootstrap's output ----" >&2
    tail -n 25 "$DB_LOG" >&2
    if [ -f "$ROOTFS/debootstrap/debootstrap.log" ]; then
        echo "---- last lines of $ROOTFS/debootstrap/debootstrap.log ----" >&2
        tail -n 25 "$ROOTFS/debootstrap/debootstrap.log" >&2
    fi
    if grep -qiE "No space left|disk full" "$DB_LOG" "$ROOTFS/debootstrap/debootstrap.log" 2>/dev/null; then
        die "debootstrap failed: disk full in $TMPBASE; free some space (about 2 GiB) and retry"
    fi
    if grep -qiE "Couldn't find these debs|Unable to locate|E: Couldn't find" "$DB_LOG" 2>/dev/null; then
        die "debootstrap failed: a package in packages.txt does not exist in $SUITE; fix $HERE/packages.txt"
    fi
    if grep -qiE "Failed getting release|Couldn't download|Connection refused|unable to resolve|Temporary failure" "$DB_LOG" 2>/dev/null; then
        die "debootstrap failed: cannot download from $MIRROR (mirror unreachable?); check the network and retry"
    fi
    die "debootstrap failed (status $db_rc); see its output above"
fi

# Nothing may stay mounted in the tree we are about to pack.
if awk -v r="$ROOTFS/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
    die "something is still mounted under $ROOTFS after debootstrap; refusing to pack it"
fi

# ------------------------------------------------------ configure the root ---
say "installing the init and the shutdown helpers"
install -m 0755 "$HERE/init" "$ROOTFS/usr/sbin/virtbench-init"
# /sbin/init too, so the image also boots when init= is forgotten.
for n in init shutdown poweroff halt reboot; do
    if [ -e "$ROOTFS/usr/sbin/$n" ] || [ -L "$ROOTFS/usr/sbin/$n" ]; then
        die "a package installed /sbin/$n (an init system in packages.txt?); the image must use virtbench-init's"
    fi
    ln -s virtbench-init "$ROOTFS/usr/sbin/$n"
done
echo virtbench-guest > "$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tvirtbench-guest\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOTFS/etc/hosts"
cat > "$ROOTFS/etc/fstab" <<'EOF'
# virtbench guest: / is mounted by the initramfs (root=/dev/vda rw), and so
# are /dev, /proc, /sys, /dev/pts, /dev/shm, /run and /tmp; booted without
# it, /sbin/virtbench-init mounts them.
EOF

KVERS=$(cd "$ROOTFS/boot" && ls vmlinuz-* 2>/dev/null | sed 's/^vmlinuz-//' || true)
[ "$(printf '%s\n' "$KVERS" | grep -c .)" -eq 1 ] ||
    die "expected exactly one kernel in $ROOTFS/boot, found: ${KVERS:-none}; check packages.txt"
KVER=$KVERS
# The guest kernel's timer frequency, for the lpj= the harness computes (src/image.cpp).
KERNEL_HZ=$(sed -n 's/^CONFIG_HZ=\([0-9][0-9]*\)$/\1/p' "$ROOTFS/boot/config-$KVER")
[ -n "$KERNEL_HZ" ] || die "no CONFIG_HZ in $ROOTFS/boot/config-$KVER; is linux-image-cloud-amd64 installed?"

# Not initramfs-tools' initrd (the kernel package pulls initramfs-tools in and
# it made one): its scripts took 4-6 s of a 7-9 s boot under TCG.  Ours is
# klibc's sh, mount, insmod, ln, run-init, sleep and mkdir (small tools, one
# 75 KB library), the virtio modules (the cloud kernel has ext4 built in) and
# the init script itself as /init: about 0.6 MB, uncompressed, so the kernel
# only copies it.
say "building the initramfs (klibc, virtio modules, init as /init)"
IRD=$WORK/initramfs
mkdir -p "$IRD/bin" "$IRD/lib/modules" "$IRD/dev" "$IRD/proc" "$IRD/sys" "$IRD/root"
KLIBC_SO=$(cd "$ROOTFS/usr/lib" && ls klibc-*.so 2>/dev/null || true)
[ "$(printf '%s\n' "$KLIBC_SO" | grep -c .)" -eq 1 ] ||
    die "expected one klibc library in $ROOTFS/usr/lib, found: ${KLIBC_SO:-none}; packages.txt needs klibc-utils"
cp "$ROOTFS/usr/lib/$KLIBC_SO" "$IRD/lib/"   # the tools' ELF interpreter is /lib/klibc-*.so
for t in sh mount insmod ln run-init sleep mkdir; do
    [ -x "$ROOTFS/usr/lib/klibc/bin/$t" ] || die "klibc's $t is missing in the root filesystem; packages.txt needs klibc-utils"
    cp "$ROOTFS/usr/lib/klibc/bin/$t" "$IRD/bin/"
done
install -m 0755 "$HERE/init" "$IRD/init"
# virtio_pci for q35, virtio_mmio for microvm; in load order, dependencies first.
: > "$IRD/modules"
for m in virtio_pci virtio_mmio virtio_blk virtio_console; do
    deps=$(chroot "$ROOTFS" modprobe -S "$KVER" --show-depends "$m" 2>&1) ||
        die "modprobe --show-depends $m failed in the root filesystem: $deps"
    while read -r kind path _rest; do
        [ "$kind" = insmod ] || continue   # "builtin NAME": nothing to load
        ko=${path##*/}
        case $ko in *.ko) ;; *) die "module $path is compressed; the initramfs' insmod needs plain .ko files" ;; esac
        grep -qxF "$ko" "$IRD/modules" && continue
        cp "$ROOTFS$path" "$IRD/lib/modules/$ko"
        echo "$ko" >> "$IRD/modules"
    done <<<"$deps"
done
info "modules: $(paste -sd' ' "$IRD/modules")"
python3 - "$IRD" "$WORK/initrd.img" <<'PY' || die "writing the initramfs (cpio) failed"
# A newc cpio (what the kernel unpacks), owned by root, plus /dev/console.
import os, stat, sys
root, out = sys.argv[1], sys.argv[2]
ino = 0
def entry(f, name, mode, data=b"", rdev=(0, 0)):
    global ino
    ino += 1
    fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    head = b"070701" + "".join("%08X" % v for v in fields).encode() + name.encode() + b"\0"
    f.write(head + b"\0" * (-len(head) % 4) + data + b"\0" * (-len(data) % 4))
with open(out, "wb") as f:
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for p in ([d] if d != root else []) + [os.path.join(d, n) for n in sorted(files)]:
            st = os.lstat(p)
            data = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else b""
            entry(f, os.path.relpath(p, root), st.st_mode, data)
    entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    entry(f, "TRAILER!!!", 0)
PY
# initramfs-tools' own initrd is not used.
rm -f "$ROOTFS/boot/initrd.img-$KVER" "$ROOTFS/boot/initrd.img-$KVER.bak"

say "trimming caches"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/debconf/*-old \
       "$ROOTFS"/var/lib/dpkg/*-old
mkdir -p "$ROOTFS/var/lib/apt/lists/partial"
# A root owned, empty /etc/machine-id stays empty: no systemd here.
: > "$ROOTFS/etc/machine-id"

# ------------------------------------------------------------------ facts ---
say "collecting facts"
SYSBENCH_SHA=$(sha256sum "$ROOTFS/usr/bin/sysbench" | cut -d' ' -f1)
SYSBENCH_VERSION=$(chroot "$ROOTFS" /usr/bin/sysbench --version 2>/dev/null | awk '{ print $2; exit }')
[ -n "$SYSBENCH_VERSION" ] || die "could not run /usr/bin/sysbench --version in the new root"
dpkg-query --admindir="$ROOTFS/var/lib/dpkg" -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\n' |
    awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 }' > "$WORK/packages.tsv"
[ -s "$WORK/packages.tsv" ] || die "dpkg-query found no installed packages in the new root"

# ---------------------------------------------------------------- outputs ---
say "copying the kernel and initrd ($KVER)"
OUTPUTS_STARTED=1
cp "$ROOTFS/boot/vmlinuz-$KVER" "$OUTDIR_ABS/vmlinuz"
cp "$WORK/initrd.img" "$OUTDIR_ABS/initrd.img"

# The kernel's ELF image too: QEMU boots it through its PVH entry point, which
# skips the bzImage's real-mode setup and decompression (0.5 s under TCG).
# Optional: without it the harness boots vmlinuz.
say "extracting vmlinux (the uncompressed kernel, for PVH boot)"
python3 - "$OUTDIR_ABS/vmlinuz" "$OUTDIR_ABS/vmlinux" <<'PY' || { info "warning: no vmlinux; the VM boots vmlinuz (0.5 s slower under TCG)"; rm -f "$OUTDIR_ABS/vmlinux"; }
# Extracts the ELF kernel (vmlinux) from a bzImage whose payload is LZ4 (CONFIG_KERNEL_LZ4),
# with the host's liblz4 (apt depends on it); QEMU boots it through its PVH entry point.
import ctypes, ctypes.util, struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
magic = b"\x02\x21\x4c\x18"  # an LZ4 legacy frame, what the kernel's lz4 -l makes
pos = data.find(magic)
if pos < 0:
    sys.exit("%s has no LZ4 payload (the kernel is not built with CONFIG_KERNEL_LZ4)" % src)
try:
    lz4 = ctypes.CDLL(ctypes.util.find_library("lz4") or "liblz4.so.1")
except OSError as e:
    sys.exit("cannot load liblz4 (apt-get install liblz4-1): %s" % e)
block = 8 << 20  # legacy frames: blocks of at most 8 MiB
buf = ctypes.create_string_buffer(block)
out, i = bytearray(), pos + 4
while i + 4 <= len(data):
    (size,) = struct.unpack_from("<I", data, i)
    if size == 0 or size > len(data) - i - 4:
        break  # what follows the payload (its uncompressed size) is no block
    n = lz4.LZ4_decompress_safe(data[i + 4:i + 4 + size], buf, size, block)
    if n < 0:
        break
    out += buf.raw[:n]
    i += 4 + size
if out[:4] != b"\x7fELF":
    sys.exit("the LZ4 payload of %s is not an ELF kernel" % src)
# QEMU boots an ELF kernel only through its PVH note (Xen's XEN_ELFNOTE_PHYS32_ENTRY, 18).
def has_pvh_note(elf):
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for k in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + k * phentsize)
        j, end = p_offset, p_offset + p_filesz
        while p_type == 4 and j + 12 <= end:  # PT_NOTE
            namesz, descsz, ntype = struct.unpack_from("<III", elf, j)
            name = bytes(elf[j + 12:j + 12 + namesz])
            if name == b"Xen\0" and ntype == 18:
                return True
            j += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False
if not has_pvh_note(out):
    sys.exit("%s has no PVH entry point (CONFIG_PVH)" % src)
open(dst, "wb").write(out)
PY

say "making base.qcow2 (mke2fs -d, qemu-img convert)"
USED_MIB=$(du -s -x --block-size=1M "$ROOTFS" | cut -f1)
SIZE_MIB=$(( (USED_MIB * 11 / 10 + 512 + 63) / 64 * 64 ))   # used + 10% metadata + 512 MiB free
info "root filesystem uses $USED_MIB MiB; ext4 image size $SIZE_MIB MiB"
RAW=$WORK/base.raw
# lazy_*_init=0: initialise inode tables and journal now, so the guest kernel
# does not write them in the background while benchmarks run.
truncate -s "${SIZE_MIB}M" "$RAW"
mke2fs -q -F -t ext4 -L virtbench-root -d "$ROOTFS" \
       -E lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 "$RAW" \
    || die "mke2fs -d failed (disk full in $TMPBASE? image too small?)"
qemu-img convert -f raw -O qcow2 "$RAW" "$OUTDIR_ABS/base.qcow2" ||
    die "qemu-img convert failed (disk full in $OUTDIR_ABS?)"
rm -f "$RAW"

say "making rootfs.tar"
tar --create --file="$OUTDIR_ABS/rootfs.tar" --directory="$ROOTFS" \
    --numeric-owner --xattrs --sort=name --anchored \
    --exclude='./boot/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
    . || die "tar of the root filesystem failed (disk full in $OUTDIR_ABS?)"

say "writing manifest.json"
BUILT_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
VB_RECIPE_HASH=$RECIPE_HASH VB_BUILT_AT=$BUILT_AT VB_SUITE=$SUITE VB_MIRROR=$MIRROR \
VB_SYSBENCH_SHA=$SYSBENCH_SHA VB_SYSBENCH_VERSION=$SYSBENCH_VERSION VB_KVER=$KVER VB_KERNEL_HZ=$KERNEL_HZ \
python3 - "$OUTDIR_ABS" "$WORK/packages.tsv" <<'PY' || die "writing manifest.json failed"
import hashlib, json, os, sys
out, pkgs = sys.argv[1], sys.argv[2]
env = os.environ
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
packages = {}
with open(pkgs) as f:
    for line in f:
        name, version = line.rstrip("\n").split("\t", 1)
        packages[name] = version
files = {}
for name in ("vmlinuz", "vmlinux", "initrd.img", "base.qcow2", "rootfs.tar"):
    p = os.path.join(out, name)
    if name == "vmlinux" and not os.path.exists(p):
        continue  # optional
    files[name] = {"bytes": os.path.getsize(p), "sha256": digest(p)}
manifest = {
    "recipe_hash": env["VB_RECIPE_HASH"],
    "built_at": env["VB_BUILT_AT"],
    "debian_suite": env["VB_SUITE"],
    "mirror": env["VB_MIRROR"],
    "packages": dict(sorted(packages.items())),
    "sysbench_sha256": env["VB_SYSBENCH_SHA"],
    "sysbench_version": env["VB_SYSBENCH_VERSION"],
    "kernel_version": env["VB_KVER"],
    "kernel_hz": int(env["VB_KERNEL_HZ"]),
    "files": files,
}
tmp = os.path.join(out, ".manifest.json.tmp")
with open(tmp, "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
os.rename(tmp, os.path.join(out, "manifest.json"))
PY

T_END=$(date +%s)
STEP="done"
say "done in $((T_END - T_START)) s: $OUTDIR_ABS"
ls -l "$OUTDIR_ABS" | sed 's/^/    /' >&2
