#!/usr/bin/env python3
"""The include rules between virtbench's layers (see meson.build):

  core    src/ (not src/util/): may include anything but a driver's header (drivers/...);
          it knows the drivers only through src/registry.hpp and the generated driver list.
  drivers drivers/<name>/: their own folder, drivers/vm/ (the VM drivers), src/util/, and of
          the core only the interfaces: platform.hpp, driver.hpp, options.hpp, procstat.hpp.
  vm      drivers/vm/: itself, src/util/ and the same interfaces; no other driver.
  common  src/util/: only src/util/.

Exits 1 listing every include that breaks a rule (file:line: include — rule)."""

import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERFACES = {"platform.hpp", "driver.hpp", "options.hpp", "procstat.hpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def problem(rel, header):
    parts = rel.split("/")
    if parts[0] == "src" and parts[1] == "util":
        return None if header.startswith("util/") else "src/util includes only src/util"
    if parts[0] == "src":
        return "the core includes no driver header (use registry.hpp)" if header.startswith("drivers/") else None
    if parts[0] == "drivers":
        own = parts[1]
        if header.startswith("drivers/"):
            other = header.split("/")[1]
            if other == own or (other == "vm" and own in ("qemu", "libvirt")):
                return None
            return f"drivers/{own} may include drivers/{own}" + (" and drivers/vm" if own in ("qemu", "libvirt") else "")
        if header.startswith("util/") or header in INTERFACES:
            return None
        return "a driver includes of the core only " + ", ".join(sorted(INTERFACES)) + " (host services: HostServices)"
    return None


def main():
    bad = []
    checked = 0
    for top in ("src", "drivers"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".cpp", ".hpp", ".in")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)
                checked += 1
                with open(path, encoding="utf-8") as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if m and (why := problem(rel, m.group(1))):
                            bad.append(f"{rel}:{n}: #include \"{m.group(1)}\" — {why}")
    if checked < 20:
        print(f"check_layers: only {checked} source files under {ROOT}: wrong directory?")
        return 1
    for b in bad:
        print(b)
    print(f"check_layers: {checked} files, {len(bad)} include(s) breaking the layers")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
