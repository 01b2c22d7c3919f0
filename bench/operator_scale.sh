#!/usr/bin/env bash
# Benchmark: one operator, 1,000 ComplianceReports.
#
# It starts a real kube-apiserver + etcd (scripts/apiserver.sh), installs the
# CRD, starts PORTALS docspace-sim processes (each with the DocSpace rate
# limiter on: --max-concurrent-gets and --rate-limit-per-minute, and
# LATENCY_MS per request), starts the operator, then applies a few Secrets and
# REPORTS ComplianceReports with mixed schedules (daily, weekly, monthly, in ten
# time zones; none due within the next two hours) spread over the portals and
# NAMESPACES namespaces. It measures:
#   1. the time from the start of `kubectl apply` until every report has
#      Ready=…/Scheduled for its current generation (target: 60 s);
#   2. the operator's VmRSS and VmHWM once settled (target: 100 MiB) and its CPU
#      use (utime+stime from /proc/<pid>/stat) over IDLE_SECONDS of idling
#      (target: near zero);
#   3. the fan-out: BURST reports (BURST/PORTALS per portal) are re-applied with
#      a daily schedule at the same minute T, about BURST_LEAD seconds ahead,
#      in real time (no fake clock); then the time from T until all of them
#      succeeded, the most runs in flight at once (from each run's RunStarted
#      and RunSucceeded Events, published while the run holds its slot of
#      --max-concurrent-runs) against MAX_RUNS, the most at once on one portal,
#      the last run's start (starvation), failed runs, and the 429 answers the
#      portals gave (the operator's docspace_requests_total{status="429"}: the
#      simulators have no statistics endpoint, and the operator is their only
#      client), and that none of the other reports ran.
# Not a test: run it by hand, record the figures in BENCHMARKS.md.
#
#   bench/operator_scale.sh [operator-binary [docspace-sim-binary]]
#
# The binaries default to target/release/{docspace-compliance-operator,docspace-sim}
# (built with `cargo build --release --bins` when missing, or always with BUILD=1).
# Prints one line on stdout, e.g.
#   reports=1000 portals=20 … apply_s=… scheduled_after_s=… rss_mib=… peak_rss_mib=… idle_cpu_pct=… burst=200 burst_done_s=… max_in_flight=4 max_runs=4 … throttled_429=0 failed_runs=0
# Progress goes to stderr. Needs the API server binaries (`scripts/apiserver.sh
# build`; `start` builds them when missing, which takes many minutes), python3
# and curl.
#
# Environment (defaults in brackets):
#   REPORTS [1000]  PORTALS [20]  NAMESPACES [4]  SECRETS_PER_NAMESPACE [2]
#   BURST [200]          reports that fall due at the same minute
#   BURST_LEAD [75]      seconds from re-applying them to T, at least
#   MAX_RUNS [4]         --max-concurrent-runs
#   PORTAL_CONCURRENCY [8]  spec.portal.maxConcurrentRequests, and the GETs in
#                        flight each simulator allows (plus SIM_HEADROOM [0])
#   PORTAL_RPM [1200]    spec.portal.maxRequestsPerMinute
#   SIM_RPM [1500]       each simulator's sliding window (DocSpace's default)
#   LATENCY_MS [20]      per simulated request
#   AUDIT_EVENTS [5000]  per portal, from two days before today (UTC) until now
#   APPLY_JOBS [2]       `kubectl apply` calls in flight at once (chunks of 250)
#   SETTLE_SECONDS [10]  wait after every report is Scheduled before reading RSS
#   IDLE_SECONDS [30]    CPU measurement window
#   TIMEOUT [300]        seconds to wait for each phase
#   LEADER_ELECTION [1]  0: run with --no-leader-election
#   KEEP_STATE [0]       1: keep the state directory (logs, YAML) after a success
#   BENCH_STATE_DIR      state directory (default: a new mktemp -d)
set -euo pipefail

readonly T_START=$EPOCHREALTIME
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly APISERVER_SH="$REPO_ROOT/scripts/apiserver.sh"
readonly CRD="$REPO_ROOT/crds/compliancereports.compliance.docspace.dev.yaml"

readonly REPORTS="${REPORTS:-1000}"
readonly PORTALS="${PORTALS:-20}"
readonly NAMESPACES="${NAMESPACES:-4}"
readonly SECRETS_PER_NAMESPACE="${SECRETS_PER_NAMESPACE:-2}"
readonly BURST="${BURST:-200}"
readonly BURST_LEAD="${BURST_LEAD:-75}"
readonly MAX_RUNS="${MAX_RUNS:-4}"
readonly PORTAL_CONCURRENCY="${PORTAL_CONCURRENCY:-8}"
readonly SIM_HEADROOM="${SIM_HEADROOM:-0}"
readonly PORTAL_RPM="${PORTAL_RPM:-1200}"
readonly SIM_RPM="${SIM_RPM:-1500}"
readonly LATENCY_MS="${LATENCY_MS:-20}"
readonly AUDIT_EVENTS="${AUDIT_EVENTS:-5000}"
readonly APPLY_JOBS="${APPLY_JOBS:-2}"
readonly SETTLE_SECONDS="${SETTLE_SECONDS:-10}"
readonly IDLE_SECONDS="${IDLE_SECONDS:-30}"
readonly TIMEOUT="${TIMEOUT:-300}"
readonly LEADER_ELECTION="${LEADER_ELECTION:-1}"
readonly KEEP_STATE="${KEEP_STATE:-0}"
readonly BUILD="${BUILD:-0}"

log() { printf 'operator_scale.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


usage() { sed -n '2,56p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------------------
# arguments and binaries
# ---------------------------------------------------------------------------

[[ "${1:-}" != -h && "${1:-}" != --help ]] || usage
OP_BIN="${1:-$REPO_ROOT/target/release/docspace-compliance-operator}"
SIM_BIN="${2:-$REPO_ROOT/target/release/docspace-sim}"
for var in REPORTS PORTALS NAMESPACES SECRETS_PER_NAMESPACE BURST BURST_LEAD MAX_RUNS \
    PORTAL_CONCURRENCY SIM_HEADROOM PORTAL_RPM SIM_RPM LATENCY_MS AUDIT_EVENTS APPLY_JOBS \
    SETTLE_SECONDS IDLE_SECONDS TIMEOUT; do
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a non-negative integer (got '${!var}')"
done
((PORTALS >= 1 && NAMESPACES >= 1 && SECRETS_PER_NAMESPACE >= 1 && APPLY_JOBS >= 1)) \
    || die "PORTALS, NAMESPACES, SECRETS_PER_NAMESPACE and APPLY_JOBS must be at least 1"
((BURST <= REPORTS)) || die "BURST ($BURST) must not exceed REPORTS ($REPORTS)"
((BURST_LEAD >= 30)) || die "BURST_LEAD must be at least 30 s"
for tool in curl python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [[ $# -eq 0 ]] && { [[ "$BUILD" == 1 ]] || [[ ! -x "$OP_BIN" || ! -x "$SIM_BIN" ]]; }; then
    log "building the release binaries (cargo build --release --bins)"
    (cd "$REPO_ROOT" && cargo build --release --bins) >&2 || die "cargo build failed"
fi
for bin in "$OP_BIN" "$SIM_BIN"; do
    [[ -f "$bin" && -x "$bin" ]] || die "$bin is not an executable file"
done
if [[ $# -eq 0 ]] && [[ -n "$(find "$REPO_ROOT/src" "$REPO_ROOT/Cargo.lock" -newer "$OP_BIN" -print -quit)" ]]; then
    log "warning: $OP_BIN is older than the sources (BUILD=1 rebuilds it)"
fi

# ---------------------------------------------------------------------------
# cleanup: operator, simulators, API server, state directory
# ---------------------------------------------------------------------------

STATE="${BENCH_STATE_DIR:-}"
if [[ -z "$STATE" ]]; then
    STATE="$(mktemp -d "${TMPDIR:-/tmp}/operator-scale.XXXXXX")"
else
    mkdir -p "$STATE"
    STATE="$(cd "$STATE" && pwd)"
fi
readonly STATE
OP_PID=""
SIM_PIDS=()
APISERVER_STARTED=0
SUCCEEDED=0



cleanup() {
    local rc=$? pid job
    trap - EXIT INT TERM
    for job in $(jobs -p); do
        [[ "$job" == "$OP_PID" ]] || [[ " ${SIM_PIDS[*]} " == *" $job "* ]] \
            || kill -TERM "$job" 2>/dev/null || true
    done
    [[ -z "$OP_PID" ]] || stop_pid "$OP_PID" operator
    for pid in "${SIM_PIDS[@]}"; do stop_pid "$pid" docspace-sim; done
    if ((APISERVER_STARTED)); then
        "$APISERVER_SH" stop "$STATE" || log "warning: stopping the API server failed"
    fi
    if ((SUCCEEDED)) && [[ "$KEEP_STATE" != 1 ]]; then
        rm -rf "$STATE"
    else
        log "state kept in $STATE (operator.log, sim-*.log, YAML, JSON snapshots)"
    fi
    log "total time $(elapsed)s"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM


# ---------------------------------------------------------------------------
# the Python half: YAML generation and the analysis of kubectl's JSON
# ---------------------------------------------------------------------------

cat >"$STATE/scale.py" <<'PY'
"""Helpers of bench/operator_scale.sh; the plan lives in plan.json beside this file."""
import datetime as dt
import json
import os
import sys
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
PLAN = os.path.join(HERE, "plan.json")
ZONES = ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
         "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney",
         "Africa/Johannesburg"]
PERIODS = {"daily": "PreviousDay", "weekly": "PreviousWeek", "monthly": "PreviousMonth"}


def env(name):
    return int(os.environ[name])


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_yaml(r, schedule=None, zone=None, period=None, settle=None):
    extra = f"  settleSeconds: {settle}\n" if settle is not None else ""
    return (
        "---\napiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\n"
        f"metadata: {{name: {r['name']}, namespace: {r['namespace']}}}\n"
        "spec:\n"
        f"  portal: {{url: \"{r['url']}\", tokenSecretRef: {{name: {r['secret']}}}, "
        f"maxConcurrentRequests: {env('PORTAL_CONCURRENCY')}, "
        f"maxRequestsPerMinute: {env('PORTAL_RPM')}}}\n"
        f"  schedule: \"{schedule or r['schedule']}\"\n"
        f"  timeZone: {zone or r['zone']}\n"
        f"  period: {period or r['period']}\n{extra}"
        # One run per report when they fall due together: the fan-out, not the backfill.
        "  missedRuns: Latest\n"
        f"  report: {{formats: [csv], fileName: \"{r['name']}-{{period}}\"}}\n"
        "  upload: {folderId: \"1045\"}\n"
    )


def gen(urls_file):
    """Secrets and reports: mixed schedules none of which is due within two hours."""
    urls = open(urls_file).read().split()
    reports, namespaces = env("REPORTS"), env("NAMESPACES")
    per_ns, burst = env("SECRETS_PER_NAMESPACE"), env("BURST")
    now = dt.datetime.now(dt.timezone.utc)
    with open(os.path.join(HERE, "secrets.yaml"), "w") as out:
        for n in range(namespaces):
            out.write(f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: bench-{n}}}\n")
            for s in range(per_ns):
                out.write(
                    "---\napiVersion: v1\nkind: Secret\n"
                    f"metadata: {{name: docspace-{s}, namespace: bench-{n}}}\n"
                    f"stringData: {{token: \"{os.environ['API_KEY']}\"}}\n")
    plan = []
    for i in range(reports):
        zone = ZONES[i % len(ZONES)]
        kind = ["daily", "weekly", "monthly"][(i // len(ZONES)) % 3]
        local = now.astimezone(ZoneInfo(zone))
        hour = (local.hour + 3 + i % 18) % 24
        minute = (i * 7) % 60
        if kind == "daily":
            schedule = f"{minute} {hour} * * *"
        elif kind == "weekly":
            weekday = (local.isoweekday() % 7 + 1 + i % 6) % 7
            schedule = f"{minute} {hour} * * {weekday}"
        else:
            schedule = f"{minute} {hour} {(local.day + 1 + i % 20) % 28 + 1} * *"
        plan.append({
            "name": f"r{i:04d}",
            "namespace": f"bench-{i % namespaces}",
            "secret": f"docspace-{(i // namespaces) % per_ns}",
            "portal": i % len(urls),
            "url": urls[i % len(urls)],
            "schedule": schedule,
            "zone": zone,
            "period": PERIODS[kind],
            "burst": i < burst,
        })
    json.dump(plan, open(PLAN, "w"))
    chunk = 250
    for start in range(0, reports, chunk):
        with open(os.path.join(HERE, f"reports-{start // chunk:03d}.yaml"), "w") as out:
            for r in plan[start:start + chunk]:
                out.write(report_yaml(r))


def items():
    return json.load(sys.stdin)["items"]


def ready(obj):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def current(obj):
    generation = obj["metadata"].get("generation")
    conditions = (obj.get("status") or {}).get("conditions") or []
    return bool(conditions) and all(c.get("observedGeneration") == generation for c in conditions)


def scheduled(burst_at=None):
    """Prints how many reports are Scheduled for their current generation (and, with
    burst_at, how many of the burst ones wait for exactly that instant), and the total."""
    plan = {(r["namespace"], r["name"]): r for r in json.load(open(PLAN))}
    ok = total = 0
    for obj in items():
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if key not in plan or (burst_at and not plan[key]["burst"]):
            continue
        total += 1
        c = ready(obj)
        good = c is not None and c.get("reason") == "Scheduled" and current(obj)
        if burst_at:
            good = good and obj["status"].get("nextScheduleTime") == burst_at
        ok += good
    print(ok, total)


def soonest():
    """Seconds until the soonest nextScheduleTime of the reports that are not in the burst."""
    plan = {(r["namespace"], r["name"]): r for r in json.load(open(PLAN))}
    now = dt.datetime.now(dt.timezone.utc)
    times = [parse_time(o["status"]["nextScheduleTime"]) for o in items()
             if not plan[(o["metadata"]["namespace"], o["metadata"]["name"])]["burst"]
             and (o.get("status") or {}).get("nextScheduleTime")]
    print(int((min(times) - now).total_seconds()) if times else -1)


def burst_yaml(at):
    """The burst reports again, due daily at the minute `at` (UTC)."""
    t = parse_time(at)
    with open(os.path.join(HERE, "burst.yaml"), "w") as out:
        for r in json.load(open(PLAN)):
            if r["burst"]:
                out.write(report_yaml(r, f"{t.minute} {t.hour} * * *", "UTC", "PreviousDay", 0))


def burst_status(at):
    """Prints: burst reports that ran T and succeeded, those whose last run failed, total."""
    plan = {(r["namespace"], r["name"]): r for r in json.load(open(PLAN))}
    done = failed = total = 0
    for obj in items():
        if not plan[(obj["metadata"]["namespace"], obj["metadata"]["name"])]["burst"]:
            continue
        total += 1
        status = obj.get("status") or {}
        c = ready(obj)
        if status.get("lastScheduleTime") == at and c and c.get("reason") == "Succeeded":
            done += 1
        elif status.get("lastRunResult") not in (None, "Succeeded"):
            failed += 1
    print(done, failed, total)


def overlap(intervals):
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def runs(at):
    """Runs from the Events: key=value pairs about in-flight runs and starvation."""
    plan = {(r["namespace"], r["name"]): r for r in json.load(open(PLAN))}
    t = parse_time(at)
    started, ended, failed, other = {}, {}, 0, set()
    for e in items():
        reason = e.get("reason")
        key = (e["regarding"].get("namespace"), e["regarding"].get("name"))
        if key not in plan or not e.get("eventTime"):
            continue
        when = parse_time(e["eventTime"])
        if reason == "RunStarted":
            started.setdefault(key, []).append(when)
            if not plan[key]["burst"]:
                other.add(key)
        elif reason == "RunSucceeded":
            ended.setdefault(key, []).append(when)
        elif reason == "RunFailed":
            failed += 1
    intervals = {k: (min(v), max(ended.get(k, [v[0]]))) for k, v in started.items()}
    per_portal = {}
    for k, iv in intervals.items():
        per_portal.setdefault(plan[k]["portal"], []).append(iv)
    starts = sorted(s for s, _ in intervals.values())
    ends = sorted(e for _, e in intervals.values())
    durations = sorted((e - s).total_seconds() for s, e in intervals.values())
    fields = {
        "runs_started": sum(len(v) for v in started.values()),
        "reports_run": len(intervals),
        "twice": sum(1 for v in started.values() if len(v) > 1),
        "max_in_flight": overlap(list(intervals.values())),
        "max_per_portal": max((overlap(v) for v in per_portal.values()), default=0),
        "first_start_s": f"{(starts[0] - t).total_seconds():.1f}" if starts else "-",
        "last_start_s": f"{(starts[-1] - t).total_seconds():.1f}" if starts else "-",
        "last_end_s": f"{(ends[-1] - t).total_seconds():.1f}" if ends else "-",
        "run_s_median": f"{durations[len(durations) // 2]:.2f}" if durations else "-",
        "run_s_max": f"{durations[-1]:.2f}" if durations else "-",
        "failed_runs": failed,
        "unplanned_runs": len(other),
    }
    print(" ".join(f"{k}={v}" for k, v in fields.items()))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"gen": gen, "scheduled": scheduled, "soonest": soonest, "burst-yaml": burst_yaml,
     "burst-status": burst_status, "runs": runs}[command](*args)
PY
py() { python3 "$STATE/scale.py" "$@"; }

# ---------------------------------------------------------------------------
# API server and CRD
# ---------------------------------------------------------------------------

log "state directory $STATE"
log "starting the API server"
APISERVER_STARTED=1
"$APISERVER_SH" start "$STATE" || die "scripts/apiserver.sh start failed"
# shellcheck disable=SC1091 # written by apiserver.sh start
source "$STATE/env"
export KUBECONFIG
[[ -x "$KUBECTL" ]] || die "kubectl not found at $KUBECTL"
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG" --request-timeout=120s "$@"; }
log "API server ready at $APISERVER_URL ($(elapsed)s)"
kc apply -f "$CRD" >/dev/null || die "cannot apply $CRD"
kc wait --for=condition=Established --timeout=60s \
    crd/compliancereports.compliance.docspace.dev >/dev/null \
    || die "the CRD is not Established after 60s"

# ---------------------------------------------------------------------------
# simulators
# ---------------------------------------------------------------------------

API_KEY="sk-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export API_KEY
events_from="$(date -u -d "$(date -u +%F) -2 days" +%FT%TZ)"
events_to="$(date -u +%FT%TZ)"
log "starting $PORTALS simulators ($AUDIT_EVENTS audit events each from $events_from, ${LATENCY_MS} ms per request, $((PORTAL_CONCURRENCY + SIM_HEADROOM)) GETs in flight, $SIM_RPM per minute)"
for ((p = 0; p < PORTALS; p++)); do
    DOCSPACE_SIM_API_KEY="$API_KEY" "$SIM_BIN" --listen 127.0.0.1:0 \
        --audit-events "$AUDIT_EVENTS" --login-events 100 --seed "$((20250301 + p))" \
        --from "$events_from" --to "$events_to" --latency-ms "$LATENCY_MS" \
        --max-concurrent-gets "$((PORTAL_CONCURRENCY + SIM_HEADROOM))" \
        --rate-limit-per-minute "$SIM_RPM" \
        </dev/null >"$STATE/sim-$p.out" 2>"$STATE/sim-$p.log" &
    SIM_PIDS+=($!)
done
: >"$STATE/urls"
for ((p = 0; p < PORTALS; p++)); do
    deadline=$((SECONDS + 60))
    until grep -q '^listening on ' "$STATE/sim-$p.out" 2>/dev/null; do
        running "${SIM_PIDS[$p]}" || die "simulator $p exited: $(tail -n 5 "$STATE/sim-$p.log")"
        ((SECONDS < deadline)) || die "simulator $p did not start within 60s"
        sleep 0.1
    done
    sed -n 's/^listening on //p' "$STATE/sim-$p.out" | head -n 1 >>"$STATE/urls"
done

# ---------------------------------------------------------------------------
# the operator, then the Secrets and reports
# ---------------------------------------------------------------------------

export REPORTS PORTALS NAMESPACES SECRETS_PER_NAMESPACE BURST PORTAL_CONCURRENCY PORTAL_RPM
py gen "$STATE/urls"
kc apply -f "$STATE/secrets.yaml" >/dev/null || die "cannot create the namespaces and Secrets"

PORT="$(free_port)"
readonly PORT
OP_LOG="$STATE/operator.log"
op_args=(run --kubeconfig "$KUBECONFIG" --listen "127.0.0.1:$PORT"
    --max-concurrent-runs "$MAX_RUNS" --allow-any-portal)
if [[ "$LEADER_ELECTION" == 1 ]]; then
    op_args+=(--lease-namespace default --identity bench-0)
else
    op_args+=(--no-leader-election)
fi
log "starting $OP_BIN ${op_args[*]:1}"
RUST_LOG=info "$OP_BIN" "${op_args[@]}" </dev/null >"$OP_LOG" 2>&1 &
OP_PID=$!

operator_died() {
    log "last lines of $OP_LOG:"
    tail -n 30 "$OP_LOG" >&2 || true
    die "the operator exited ($1)"
}
metrics() { curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics"; }
# metric <series>: its value (0 when absent), without the docspace_compliance_ prefix.
metric() {
    metrics | awk -v s="docspace_compliance_$1" '$1 == s { v = $2 } END { print v + 0 }'
}
# CPU time (utime + stime) of the operator in clock ticks.
cpu_ticks() {
    local stat
    stat="$(cat "/proc/$OP_PID/stat")" || die "cannot read /proc/$OP_PID/stat"
    stat="${stat##*) }"
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $stat
    echo $((${12} + ${13}))
}
TICKS="$(getconf CLK_TCK)"
readonly TICKS

deadline=$((SECONDS + TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz" 2>/dev/null)" == 200 ]] \
    && [[ "$(metric leader)" == 1 ]]; do
    running "$OP_PID" || operator_died "before it was ready"
    ((SECONDS < deadline)) || die "the operator was not ready and leading within ${TIMEOUT}s"
    sleep 0.1
done
log "operator ready and leading (RSS $(mib "$(status_kib VmRSS)") MiB, $(elapsed)s)"

log "applying $REPORTS ComplianceReports ($APPLY_JOBS kubectl apply calls at once)"
t_apply=$EPOCHREALTIME
# The simulators and the operator are jobs too: wait for the apply calls by pid.
apply_pids=()
for file in "$STATE"/reports-*.yaml; do
    if ((${#apply_pids[@]} >= APPLY_JOBS)); then
        wait -n "${apply_pids[@]}" || die "kubectl apply failed (see $STATE/reports-*.log)"
        still=()
        for pid in "${apply_pids[@]}"; do running "$pid" && still+=("$pid"); done
        apply_pids=("${still[@]}")
    fi
    kc apply --server-side --field-manager=bench -f "$file" >"${file%.yaml}.log" 2>&1 &
    apply_pids+=($!)
done
for pid in "${apply_pids[@]}"; do
    wait "$pid" || die "kubectl apply failed (see $STATE/reports-*.log)"
done
apply_s="$(elapsed "$t_apply")"
log "applied in ${apply_s}s; waiting until every report is Scheduled"

deadline=$((SECONDS + TIMEOUT))
while :; do
    running "$OP_PID" || operator_died "while reconciling"
    ok=0
    read -r ok total < <(kc get creport -A -o json | py scheduled)
    if ((ok == REPORTS)); then break; fi
    ((SECONDS < deadline)) || die "only $ok of $total reports Scheduled after ${TIMEOUT}s"
    sleep 0.5
done
scheduled_s="$(elapsed "$t_apply")"
soonest_s="$(kc get creport -A -o json | py soonest)"
log "every report Scheduled ${scheduled_s}s after the apply began; the soonest run of the others is ${soonest_s}s away"
((soonest_s > 1800)) || log "warning: a report other than the burst is due within 30 minutes"

# ---------------------------------------------------------------------------
# memory and idle CPU
# ---------------------------------------------------------------------------

sleep "$SETTLE_SECONDS"
rss="$(status_kib VmRSS)"
hwm="$(status_kib VmHWM)"
log "settled: RSS $(mib "$rss") MiB, peak $(mib "$hwm") MiB; measuring CPU over ${IDLE_SECONDS}s of idling"
c0="$(cpu_ticks)"
t0=$EPOCHREALTIME
sleep "$IDLE_SECONDS"
c1="$(cpu_ticks)"
idle_cpu_pct="$(awk -v c="$((c1 - c0))" -v hz="$TICKS" -v a="$t0" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%.2f", 100 * c / hz / (b - a) }')"
idle_cpu_ms="$(((c1 - c0) * 1000 / TICKS))"
running "$OP_PID" || operator_died "while idling"
log "idle: ${idle_cpu_ms} ms of CPU in ${IDLE_SECONDS}s (${idle_cpu_pct}%)"

# ---------------------------------------------------------------------------
# the fan-out
# ---------------------------------------------------------------------------

runs_before="$(metric 'runs_total{result="success"}')"
throttled_before="$(metric 'docspace_requests_total{status="429"}')"
# T: the first whole minute at least BURST_LEAD seconds away.
burst_epoch=$(((EPOCHSECONDS + BURST_LEAD + 59) / 60 * 60))
burst_at="$(date -u -d "@$burst_epoch" +%FT%TZ)"
py burst-yaml "$burst_at"
log "re-applying $BURST reports due daily at $(date -u -d "@$burst_epoch" +%H:%M) UTC ($burst_at)"
kc apply --server-side --field-manager=bench -f "$STATE/burst.yaml" >"$STATE/burst.log" 2>&1 \
    || die "cannot re-apply the burst reports (see $STATE/burst.log)"
deadline=$((SECONDS + TIMEOUT))
while :; do
    ok=0
    read -r ok total < <(kc get creport -A -o json | py scheduled "$burst_at")
    ((ok == BURST)) && break
    ((EPOCHSECONDS < burst_epoch - 2)) \
        || die "only $ok of $BURST burst reports waited for $burst_at before it came (raise BURST_LEAD)"
    sleep 0.5
done
log "all $BURST wait for $burst_at ($((burst_epoch - EPOCHSECONDS))s to go)"
cpu_burst0="$(cpu_ticks)"
while ((EPOCHSECONDS < burst_epoch)); do sleep 0.2; done

deadline=$((SECONDS + TIMEOUT))
while :; do
    running "$OP_PID" || operator_died "during the fan-out"
    ok=0 failed=0
    read -r ok failed total < <(kc get creport -A -o json | py burst-status "$burst_at")
    ((ok >= BURST)) && break
    if ((SECONDS >= deadline)); then
        log "warning: only $ok of $BURST burst runs succeeded after ${TIMEOUT}s ($failed failed last)"
        break
    fi
    sleep 0.5
done
burst_done_s="$(awk -v a="$burst_epoch" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
burst_cpu_s="$(awk -v c="$(($(cpu_ticks) - cpu_burst0))" -v hz="$TICKS" 'BEGIN { printf "%.1f", c / hz }')"
log "fan-out: $ok of $BURST succeeded (last run of $failed others failed), ${burst_done_s}s after T"
sleep 2
runs="$(kc get events.events.k8s.io -A -o json | py runs "$burst_at")"
succeeded_runs="$(awk -v a="$(metric 'runs_total{result="success"}')" -v b="$runs_before" 'BEGIN { print a - b }')"
throttled="$(awk -v a="$(metric 'docspace_requests_total{status="429"}')" -v b="$throttled_before" 'BEGIN { print a - b }')"
requests="$(metrics | awk '$1 ~ /^docspace_compliance_docspace_requests_total/ { n += $2 } END { print n + 0 }')"
rss_after="$(status_kib VmRSS)"
hwm_after="$(status_kib VmHWM)"
errors="$(sed 's/\x1b\[[0-9;]*m//g' "$OP_LOG" | grep -c -E ' (ERROR|WARN) ' || true)"
((errors == 0)) || log "note: $OP_LOG has $errors WARN/ERROR lines"

printf 'reports=%s portals=%s namespaces=%s secrets=%s apply_s=%s scheduled_after_s=%s rss_mib=%s peak_rss_mib=%s idle_cpu_pct=%s idle_cpu_ms=%s idle_s=%s burst=%s burst_succeeded=%s burst_done_s=%s burst_cpu_s=%s success_runs=%s %s max_runs=%s portal_concurrency=%s throttled_429=%s requests=%s rss_after_burst_mib=%s peak_rss_after_burst_mib=%s\n' \
    "$REPORTS" "$PORTALS" "$NAMESPACES" "$((NAMESPACES * SECRETS_PER_NAMESPACE))" "$apply_s" \
    "$scheduled_s" "$(mib "$rss")" "$(mib "$hwm")" "$idle_cpu_pct" "$idle_cpu_ms" "$IDLE_SECONDS" \
    "$BURST" "$ok" "$burst_done_s" "$burst_cpu_s" "$succeeded_runs" "$runs" "$MAX_RUNS" \
    "$PORTAL_CONCURRENCY" "$throttled" "$requests" "$(mib "$rss_after")" "$(mib "$hwm_after")"

SUCCEEDED=1
