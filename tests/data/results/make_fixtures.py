#!/usr/bin/env python3
"""Derives the edited fixtures in this folder from the two real runs (native-a, native-b).

Run from anywhere: python3 tests/data/results/make_fixtures.py. Deterministic (seeded).
Every derived file says in its "fixture_note" that it was edited, and how.
"""
import copy
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, name, "results.json")) as f:
        return json.load(f)


def save(name, doc):
    os.makedirs(os.path.join(HERE, name), exist_ok=True)
    with open(os.path.join(HERE, name, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def cpu_events_scaled(factor, note):
    doc = load("native-a")
    doc["fixture_note"] = note
    workloads = {e["name"]: e["workload"] for e in doc["suite"]["experiments"]}
    for run in doc["runs"]:
        if workloads[run["experiment"]] == "cpu" and "events_per_sec" in run.get("metrics", {}):
            run["metrics"]["events_per_sec"] = round(run["metrics"]["events_per_sec"] * factor, 2)
    return doc


def scaled_platform(base_runs, name, rng, throughput, latency, jitter, guest=None, host_cpu=None):
    """Copies native's runs as platform `name`: throughput metrics × throughput, latencies ×
    latency, each value × (1 ± jitter) independently so the variance is not native's."""
    runs = []
    for run in base_runs:
        r = copy.deepcopy(run)
        r["platform"] = name
        r["raw"] = r["raw"].replace("/native/", f"/{name}/")
        m = r.get("metrics", {})
        for k in ("events_per_sec", "reads_per_s", "writes_per_s", "fsyncs_per_s", "read_mib_s", "written_mib_s"):
            if k in m:
                m[k] = round(m[k] * throughput * (1 + rng.uniform(-jitter, jitter)), 2)
        for k in ("min", "avg", "max", "p95"):
            if k in m.get("latency_ms", {}):
                m["latency_ms"][k] = round(m["latency_ms"][k] * latency * (1 + rng.uniform(-jitter, jitter)), 2)
        if host_cpu:
            r["cpu"]["host"].update({k: round(v * (1 + rng.uniform(-jitter, jitter)), 2) for k, v in host_cpu.items()})
        if guest:
            r["cpu"]["guest"] = {k: round(v * (1 + rng.uniform(-jitter, jitter)), 2) for k, v in guest.items()}
        for drop in r.get("cache_drops", []):
            drop["where"] = "guest" if guest else drop["where"]
        if guest and "cache_drops" in r:
            r["cache_drops"].append({"where": "host", "cached_before_kib": 812344, "cached_after_kib": 190212})
        runs.append(r)
    return runs


def three_platforms():
    doc = load("native-a")
    rng = random.Random(241)
    doc["fixture_note"] = (
        "FABRICATED from the real native run native-a: docker and qemu runs are copies of native's with "
        "platform renamed and values scaled (docker throughput x0.97, latency x1.03; qemu as TCG: cpu "
        "throughput x0.14, fileio throughput x0.45, latency x7 and x2.2), each value jittered +-3% (seed 241); "
        "qemu iteration 2 of exp3 is marked failed. Made by tests/data/results/make_fixtures.py.")
    native = [r for r in doc["runs"] if r["platform"] == "native"]
    workloads = {e["name"]: e["workload"] for e in doc["suite"]["experiments"]}
    docker = scaled_platform(native, "docker", rng, 0.97, 1.03, 0.03)
    qemu = []
    for r in native:
        cpu = workloads[r["experiment"]] == "cpu"
        qemu += scaled_platform([r], "qemu", rng, 0.14 if cpu else 0.45, 7.0 if cpu else 2.2, 0.03,
                                guest={"user_pct": 96.0 if cpu else 22.0, "kernel_pct": 3.5 if cpu else 61.0,
                                       "iowait_pct": 0.0 if cpu else 12.0, "steal_pct": 0.0, "guest_pct": 0.0,
                                       "idle_pct": 0.5 if cpu else 5.0},
                                host_cpu={"user_pct": 97.0, "kernel_pct": 2.5})
    for r in qemu:
        if r["experiment"] == "exp3-fileio-rndrw" and r["iteration"] == 2:
            r["error"] = "sysbench fileio exited 1: FATAL: Failed to write file! errno = 28 (No space left on device)"
            r["exit_code"] = 1
            r.pop("metrics", None)
    # Interleave as the runner would (round by round), so the file reads like a real one.
    doc["runs"] = sorted(native + docker + qemu, key=lambda r: (r["experiment"], r.get("round", 0)))
    doc["platforms"] += [
        {"name": "docker", "engine_version": "20.10.24+dfsg1", "api_version": "1.41", "nano_cpus": 2000000000,
         "memory_bytes": 2147483648, "image": "virtbench/guest:fabricated", "fileio_storage": "bind mount of host directory (ext4)"},
        {"name": "qemu", "accel": "tcg", "accel_reason": "no usable KVM: /dev/kvm is PVM-only (no vmx/svm flag)",
         "qemu_version": "7.2.19", "vcpus": 2, "memory_bytes": 2147483648, "cache_mode": "none",
         "fileio_storage": "virtio-blk scratch disk (raw, cache=none)"},
    ]
    return doc


save("native-a-cpu-20pct-slower", cpu_events_scaled(
    0.8, "EDITED from the real run native-a: every cpu experiment's events_per_sec multiplied by 0.8 "
         "(warm-ups too); nothing else changed. Made by tests/data/results/make_fixtures.py."))
save("native-a-cpu-20pct-faster", cpu_events_scaled(
    1.2, "EDITED from the real run native-a: every cpu experiment's events_per_sec multiplied by 1.2 "
         "(warm-ups too); nothing else changed. Made by tests/data/results/make_fixtures.py."))
save("three-platforms", three_platforms())
