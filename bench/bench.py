#!/usr/bin/env python3
"""Benchmark: `report` against the vendor seed script (through seed_harness.py), side by side,
on the same simulator. Not a test: run it by hand, record the figures in BENCHMARKS.md.

Loopback mode (default): no latency, no rate limits (the report's spec allows 100,000 requests
per minute, as for a self-hosted portal whose limiter is off), at 10k, 100k and 1M audit
events. Prints events per second, peak RSS and CPU seconds of each client process (user+sys,
GNU time).

Realistic mode (--realistic): the simulator takes 50 ms per request and enforces DocSpace's
default limits when its rate limiter is on (a sliding window of 1,500 requests per minute, 50
GETs in flight, 429 past either), at 10k, 100k, 300k and 1M events. Prints wall time, the
time spent fetching, requests, 429s and the floor those limits allow: the N // 100 + 1 pages
any client needs (the last one short, to know it is the last), 50 at a time for the first
1,500, then 25 per second. Each size runs the report twice: as a first run (it probes the
period's size with its first page) and sized from the previous period's count, as the operator
runs from the second period on (`--expected-events`).

    python3 bench/bench.py [--sizes 10000,100000,1000000] [--seed ../shared/seed/seed_report.py]
    python3 bench/bench.py --realistic [--client-limits portal|default]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
PERIOD_FROM = "2025-03-01T00:00:00Z"
PERIOD_TO = "2025-04-01T00:00:00Z"
PERIOD_TO_INCLUSIVE = "2025-03-31T23:59:59Z"
KEY = "sk-" + "b" * 64

SPEC = """apiVersion: compliance.docspace.dev/v1alpha1
kind: ComplianceReport
metadata: {{name: bench, namespace: bench}}
spec:
  portal: {{url: "{url}", tokenSecretRef: {{name: unused}}{limits}}}
  schedule: "0 3 1 * *"
  timeZone: UTC
  period: PreviousMonth
  report: {{formats: [txt], fileName: "bench-{{period}}-{n}"}}
  upload: {{folderId: "1045", onExisting: Rename}}
"""


# The limits DocSpace applies per user when its rate limiter is enabled.
PORTAL_PER_MINUTE = 1500
PORTAL_MAX_GETS = 50
LATENCY_MS = 50


def timed(cmd, env):
    """Runs cmd under GNU time; returns (seconds, peak RSS in KiB, CPU seconds, stdout)."""
    with tempfile.NamedTemporaryFile("r") as stats:
        proc = subprocess.run(
            ["/usr/bin/time", "-o", stats.name, "-f", "%e %M %U %S"] + cmd,
            env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
        seconds, rss, user, system = stats.read().split()[-4:]
    return float(seconds), int(rss), float(user) + float(system), proc.stdout


def floor_seconds(n):
    """The floor of the issue for n events (see the module doc): (pages, seconds)."""
    pages = n // 100 + 1
    latency = LATENCY_MS / 1000
    burst = min(pages, PORTAL_PER_MINUTE)
    seconds = -(-burst // PORTAL_MAX_GETS) * latency
    return seconds + max(0, pages - PORTAL_PER_MINUTE) / (PORTAL_PER_MINUTE / 60), pages


def sliding_floor_seconds(n):
    """The least time the server's real limiter allows for the same pages: its window is a log
    of the last minute's requests, so after 1,500 requests nothing passes until the first of
    them is a minute old; the pages go in bursts of 1,500 a minute apart."""
    pages = n // 100 + 1
    latency = LATENCY_MS / 1000
    full_windows, rest = divmod(pages - 1, PORTAL_PER_MINUTE)
    return full_windows * 60 + -(-(rest + 1) // PORTAL_MAX_GETS) * latency


def start_sim(n, realistic=False):
    limits = ["--latency-ms", str(LATENCY_MS), "--rate-limit-per-minute", str(PORTAL_PER_MINUTE),
              "--max-concurrent-gets", str(PORTAL_MAX_GETS)] if realistic else []
    proc = subprocess.Popen(
        [str(BIN / "docspace-sim"), "--listen", "127.0.0.1:0", "--api-key", KEY,
         "--audit-events", str(n), "--login-events", "0",
         "--from", PERIOD_FROM, "--to", PERIOD_TO, "--folder", "1045"] + limits,
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return (f"Machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}\n")


def run_report(n, env, realistic, limits, extra=()):
    """Runs `report` against a fresh simulator of n events (a rate-limiting portal counts
    requests per user: a run must not inherit an earlier run's minute)."""
    sim, url = start_sim(n, realistic)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "bench.yaml"
            spec.write_text(SPEC.format(url=url, n=n, limits=limits))
            ours = timed(
                [str(BIN / "docspace-compliance-operator"), "report", "--file", str(spec),
                 "--at", "2025-04-01T03:00:00Z", *extra], env)
            outcome = json.loads(ours[3])
    finally:
        sim.terminate()
        sim.wait()
    if outcome["eventCount"] != n:
        raise SystemExit(f"event counts differ: expected {n}, ours {outcome['eventCount']}")
    return ours, outcome


def run_pair(n, args, env, realistic, limits):
    """Runs `report` and the seed, each against a fresh simulator of n events."""
    ours, outcome = run_report(n, env, realistic, limits)
    sim, url = start_sim(n, realistic)
    try:
        seed = timed(
            [sys.executable, str(ROOT / "bench" / "seed_harness.py"), "--seed", args.seed,
             "--base-url", url, "--from", PERIOD_FROM, "--to", PERIOD_TO_INCLUSIVE], env)
        seed_events = json.loads(seed[3])["eventCount"]
    finally:
        sim.terminate()
        sim.wait()
    if seed_events != n:
        raise SystemExit(f"event counts differ: expected {n}, seed {seed_events}")
    print(f"{n}: ours {ours[0]:.2f}s {ours[1] // 1024} MiB {ours[2]:.2f} CPU s {outcome['fetch']}, "
          f"seed {seed[0]:.2f}s {seed[1] // 1024} MiB {seed[2]:.2f} CPU s", file=sys.stderr)
    return ours, outcome, seed


def loopback(args, env, sizes):
    # A portal without a rate limiter (the self-hosted default): the report may send as fast
    # as it can, 16 requests at a time.
    rows = [(n, *run_pair(n, args, env, False, ", maxRequestsPerMinute: 100000")) for n in sizes]
    print(machine())
    print("| events | report: s | report: events/s | report: peak RSS | report: CPU s per 1M events "
          "| seed: s | seed: events/s | seed: peak RSS | seed: CPU s per 1M events | speed-up | CPU ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, ours, _, seed in rows:
        per_million = lambda cpu: cpu * 1_000_000 / n
        print(f"| {n:,} | {ours[0]:.2f} | {n / max(ours[0], 0.01):,.0f} | {ours[1] / 1024:.1f} MiB | "
              f"{per_million(ours[2]):.2f} | {seed[0]:.2f} | {n / max(seed[0], 0.01):,.0f} | "
              f"{seed[1] / 1024:.1f} MiB | {per_million(seed[2]):.2f} | {seed[0] / max(ours[0], 0.01):.1f}x | "
              f"{seed[2] / max(ours[2], 0.01):.1f}x |")


def realistic(args, env, sizes):
    limits = ("" if args.client_limits == "default" else
              f", maxRequestsPerMinute: {PORTAL_PER_MINUTE}, maxConcurrentRequests: {PORTAL_MAX_GETS}")
    rows = []
    for n in sizes:
        first = run_pair(n, args, env, True, limits)
        # As the operator runs from its second period on: sized from the previous period's
        # count (here the same count).
        sized = run_report(n, env, True, limits, ("--expected-events", str(n)))
        rows.append((n, first, sized))
    print(machine())
    print(f"Simulator: {LATENCY_MS} ms per request, {PORTAL_PER_MINUTE} requests per minute (sliding window), "
          f"{PORTAL_MAX_GETS} GETs in flight. Client limits: {args.client_limits}.\n")
    print("| events | run | floor: pages | floor: s | sliding floor: s | report: s | report: fetch s | fetch / floor "
          "| fetch / sliding floor | report: requests | report: 429s | report: peak RSS | seed: s | seed / report |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, (ours, outcome, seed), (sized, sized_outcome) in rows:
        floor, pages = floor_seconds(n)
        sliding = sliding_floor_seconds(n)
        for label, run, out in (("first", ours, outcome), ("sized", sized, sized_outcome)):
            fetch = out["fetch"]
            print(f"| {n:,} | {label} | {pages:,} | {floor:.2f} | {sliding:.2f} | {run[0]:.2f} | "
                  f"{fetch['seconds']:.2f} | {fetch['seconds'] / floor:.2f} | {fetch['seconds'] / sliding:.2f} | "
                  f"{fetch['requests']:,} | {fetch['throttled']} | {run[1] / 1024:.1f} MiB | {seed[0]:.2f} | "
                  f"{seed[0] / max(run[0], 0.01):.1f}x |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", help="comma-separated event counts")
    parser.add_argument("--seed", default=str(ROOT.parent / "shared" / "seed" / "seed_report.py"))
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--realistic", action="store_true",
                        help="50 ms per request and DocSpace's default rate limits")
    parser.add_argument("--client-limits", choices=["portal", "default"], default="portal",
                        help="realistic mode: the report's spec.portal limits at the portal's own "
                             "(1500/min, 50) or at the operator's defaults (1200/min, 16)")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bins"], cwd=ROOT, check=True)
    env = dict(os.environ, DOCSPACE_TOKEN=KEY)
    default_sizes = "10000,100000,300000,1000000" if args.realistic else "10000,100000,1000000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    if args.realistic:
        realistic(args, env, sizes)
    else:
        loopback(args, env, sizes)


if __name__ == "__main__":
    main()
