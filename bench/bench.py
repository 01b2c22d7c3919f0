#!/usr/bin/env python3
"""Benchmark: `report` against the vendor seed script (through seed_harness.py), side by side,
on the same simulator, at 10k, 100k and 1M audit events. Prints events per second and peak RSS
(from GNU time) as a Markdown table. Not a test: run it by hand, record the figures in
BENCHMARKS.md.

    python3 bench/bench.py [--sizes 10000,100000,1000000] [--seed ../shared/seed/seed_report.py]
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
  portal: {{url: "{url}", tokenSecretRef: {{name: unused}}}}
  schedule: "0 3 1 * *"
  timeZone: UTC
  period: PreviousMonth
  report: {{formats: [txt], fileName: "bench-{{period}}-{n}"}}
  upload: {{folderId: "1045", onExisting: rename}}
"""


def timed(cmd, env):
    """Runs cmd under GNU time; returns (seconds, peak RSS in KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as stats:
        proc = subprocess.run(
            ["/usr/bin/time", "-o", stats.name, "-f", "%e %M"] + cmd,
            env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
        seconds, rss = stats.read().split()[-2:]
    return float(seconds), int(rss), proc.stdout


def start_sim(n):
    proc = subprocess.Popen(
        [str(BIN / "docspace-sim"), "--listen", "127.0.0.1:0", "--api-key", KEY,
         "--audit-events", str(n), "--login-events", "0",
         "--from", PERIOD_FROM, "--to", PERIOD_TO, "--folder", "1045"],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seed", default=str(ROOT.parent / "shared" / "seed" / "seed_report.py"))
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bins"], cwd=ROOT, check=True)

    env = dict(os.environ, DOCSPACE_TOKEN=KEY)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        sim, url = start_sim(n)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                spec = Path(tmp) / "bench.yaml"
                spec.write_text(SPEC.format(url=url, n=n))
                ours_s, ours_rss, out = timed(
                    [str(BIN / "docspace-compliance-operator"), "report", "--file", str(spec),
                     "--at", "2025-04-01T03:00:00Z"], env)
                ours_events = json.loads(out)["eventCount"]
                peer_s, peer_rss, out = timed(
                    [sys.executable, str(ROOT / "bench" / "seed_harness.py"), "--seed", args.seed,
                     "--base-url", url, "--from", PERIOD_FROM, "--to", PERIOD_TO_INCLUSIVE], env)
                peer_events = json.loads(out)["eventCount"]
        finally:
            sim.terminate()
            sim.wait()
        if ours_events != n or peer_events != n:
            raise SystemExit(f"event counts differ: expected {n}, ours {ours_events}, seed {peer_events}")
        rows.append((n, ours_s, ours_rss, peer_s, peer_rss))
        print(f"{n}: ours {ours_s:.2f}s {ours_rss // 1024} MiB, seed {peer_s:.2f}s {peer_rss // 1024} MiB", file=sys.stderr)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}\n")
    print("| events | report: s | report: events/s | report: peak RSS | seed: s | seed: events/s | seed: peak RSS | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, os_, orss, ps, prss in rows:
        print(f"| {n:,} | {os_:.2f} | {n / max(os_, 0.01):,.0f} | {orss / 1024:.1f} MiB | {ps:.2f} | "
              f"{n / max(ps, 0.01):,.0f} | {prss / 1024:.1f} MiB | {ps / max(os_, 0.01):.1f}x |")


if __name__ == "__main__":
    main()
