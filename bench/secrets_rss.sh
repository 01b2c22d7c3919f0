#!/usr/bin/env bash
# Benchmark: the operator's memory when the cluster holds many Secrets that have
# nothing to do with it.
#
# It starts a real kube-apiserver + etcd (scripts/apiserver.sh), installs the
# ComplianceReport CRD, fills namespace `noise` with SECRETS Secrets of SECRET_KIB
# KiB of random data each, created with client-side `kubectl apply` so that each
# also carries the kubectl.kubernetes.io/last-applied-configuration annotation
# (a second copy of the data, as GitOps-managed Secrets have), and adds namespace
# `team` with one Secret and one ComplianceReport that uses it. Then it runs the
# operator (all namespaces, no leader election), waits for GET /readyz to answer
# 200, lets it settle for SETTLE_SECONDS, and reads VmRSS (current) and VmHWM
# (peak) from /proc/<pid>/status. Not a test: run it by hand, record the figures
# in BENCHMARKS.md.
#
#   bench/secrets_rss.sh <operator-binary> [extra `run` args...]
#
#   bench/secrets_rss.sh target/release/docspace-compliance-operator
#   SECRETS=500 bench/secrets_rss.sh /tmp/op-before
#   bench/secrets_rss.sh target/release/docspace-compliance-operator --allow-any-portal
#
# Prints one line on stdout, e.g.
#   bin=op-before secrets=2000 secret_kib=100 rss_mib=… peak_rss_mib=… rss_at_ready_mib=… ready_after_s=…
# Progress goes to stderr.
#
# Needs the API server binaries (`scripts/apiserver.sh build`; `start` builds them
# when missing, which takes many minutes), curl and base64. About 2.7x
# SECRETS*SECRET_KIB of etcd data (base64, twice per Secret): ~550 MB at the defaults.
#
# Environment:
#   SECRETS          number of noise Secrets (default 2000)
#   SECRET_KIB       random bytes per Secret, in KiB (default 100; above ~180 the
#                    last-applied annotation passes the API's 256 KiB annotation limit)
#   CHUNK            Secrets per `kubectl apply` call (default 100)
#   APPLY_JOBS       `kubectl apply` calls in flight at once (default 2)
#   SETTLE_SECONDS   wait after /readyz before reading the memory (default 10)
#   READY_TIMEOUT    seconds to wait for the operator's /readyz (default 300)
#   KEEP_STATE       1: keep the state directory (logs, etcd data) after a success;
#                    it is always kept after a failure
#   BENCH_STATE_DIR  state directory (default: a new mktemp -d)
set -euo pipefail

readonly T_START=$EPOCHREALTIME
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly APISERVER_SH="$REPO_ROOT/scripts/apiserver.sh"
readonly CRD="$REPO_ROOT/crds/compliancereports.compliance.docspace.dev.yaml"

readonly SECRETS="${SECRETS:-2000}"
readonly SECRET_KIB="${SECRET_KIB:-100}"
readonly CHUNK="${CHUNK:-100}"
readonly APPLY_JOBS="${APPLY_JOBS:-2}"
readonly SETTLE_SECONDS="${SETTLE_SECONDS:-10}"
readonly READY_TIMEOUT="${READY_TIMEOUT:-300}"
readonly KEEP_STATE="${KEEP_STATE:-0}"

log() { printf 'secrets_rss.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


usage() { sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || usage
BIN="$1"
shift
[[ "$BIN" == */* ]] || BIN="./$BIN"
[[ -f "$BIN" && -x "$BIN" ]] || die "$BIN is not an executable file"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
readonly BIN EXTRA_ARGS=("$@")

for var in SECRETS SECRET_KIB CHUNK APPLY_JOBS SETTLE_SECONDS READY_TIMEOUT; do
    [[ "${!var}" =~ ^[0-9]+$ ]] || die "$var must be a non-negative integer (got '${!var}')"
done
((CHUNK >= 1 && APPLY_JOBS >= 1)) || die "CHUNK and APPLY_JOBS must be at least 1"
for tool in curl base64 awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

# ---------------------------------------------------------------------------
# cleanup: operator, then API server, then the state directory
# ---------------------------------------------------------------------------

STATE="${BENCH_STATE_DIR:-}"
if [[ -z "$STATE" ]]; then
    STATE="$(mktemp -d "${TMPDIR:-/tmp}/secrets-rss.XXXXXX")"
else
    mkdir -p "$STATE"
    STATE="$(cd "$STATE" && pwd)"
fi
readonly STATE
OP_PID=""
APISERVER_STARTED=0
SUCCEEDED=0


stop_operator() {
    [[ -n "$OP_PID" ]] || return 0
    stop_pid "$OP_PID" operator
    OP_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # kubectl apply jobs still in flight (after a failure): only our own children.
    local job
    for job in $(jobs -p); do kill -TERM "$job" 2>/dev/null || true; done
    stop_operator
    if ((APISERVER_STARTED)); then
        "$APISERVER_SH" stop "$STATE" || log "warning: stopping the API server failed"
    fi
    if ((SUCCEEDED)) && [[ "$KEEP_STATE" != 1 ]]; then
        rm -rf "$STATE"
    else
        log "state kept in $STATE (operator.log, logs/, apply logs)"
    fi
    log "total time $(elapsed)s"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM


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
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
log "API server ready at $APISERVER_URL ($(elapsed)s)"

kc apply -f "$CRD" >/dev/null || die "cannot apply $CRD"
kc wait --for=condition=Established --timeout=60s \
    crd/compliancereports.compliance.docspace.dev >/dev/null \
    || die "the CRD is not Established after 60s"

# ---------------------------------------------------------------------------
# noise Secrets
# ---------------------------------------------------------------------------

kc create namespace noise >/dev/null
kc create namespace team >/dev/null

readonly BYTES=$((SECRET_KIB * 1024))
mkdir -p "$STATE/noise"

# write_chunk <file> <first> <last>: a multi-document YAML of Secrets first..last.
write_chunk() {
    local file="$1" first="$2" last="$3" i
    {
        for ((i = first; i <= last; i++)); do
            printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: noise-%05d\n' "$i"
            printf '  namespace: noise\ntype: Opaque\ndata:\n  blob: '
            head -c "$BYTES" /dev/urandom | base64 -w0
            printf '\n'
        done
    } >"$file"
}

# One background `kubectl apply` per chunk, at most APPLY_JOBS at once; kubectl
# sends one request per object, so chunks in parallel use the API server better.
apply_chunk() {
    local file="$1"
    kc apply -f "$file" --request-timeout=120s >"$file.log" 2>&1 || {
        log "kubectl apply -f $file failed:"
        tail -n 20 "$file.log" >&2
        return 1
    }
    rm -f "$file"
}

# wait_one: waits for one apply job; fails the script when it failed.
wait_one() {
    wait -n || die "creating the noise Secrets failed (logs in $STATE/noise/)"
}

t_noise=$EPOCHREALTIME
log "creating $SECRETS Secrets of $SECRET_KIB KiB in namespace noise ($CHUNK per apply, $APPLY_JOBS in flight)"
in_flight=0
for ((first = 1; first <= SECRETS; first += CHUNK)); do
    last=$((first + CHUNK - 1))
    ((last <= SECRETS)) || last=$SECRETS
    chunk="$STATE/noise/chunk-$(printf '%05d' "$first").yaml"
    write_chunk "$chunk" "$first" "$last"
    if ((in_flight >= APPLY_JOBS)); then
        wait_one
        in_flight=$((in_flight - 1))
    fi
    apply_chunk "$chunk" &
    in_flight=$((in_flight + 1))
done
while ((in_flight > 0)); do
    wait_one
    in_flight=$((in_flight - 1))
done

# Table output: the server sends names only, not the data.
count="$(kc get secrets -n noise --no-headers --request-timeout=120s | wc -l)"
((count == SECRETS)) || die "namespace noise holds $count Secrets, expected $SECRETS"
if ((SECRETS > 0)); then
    one="$(kc get secret -n noise noise-00001 -o json)"
    grep -q 'kubectl.kubernetes.io/last-applied-configuration' <<<"$one" \
        || die "noise-00001 has no last-applied-configuration annotation"
    log "created $count Secrets in $(elapsed "$t_noise")s; one is $((${#one} / 1024)) KiB as JSON"
fi

# ---------------------------------------------------------------------------
# the one Secret and ComplianceReport the operator cares about
# ---------------------------------------------------------------------------

kc apply -f - >/dev/null <<'EOF' || die "cannot create Secret team/docspace"
apiVersion: v1
kind: Secret
metadata: {name: docspace, namespace: team}
type: Opaque
stringData: {token: sk-test}
EOF

# Discovery of a just-Established CRD can lag a little: retry for 30s.
report_yaml='apiVersion: compliance.docspace.dev/v1alpha1
kind: ComplianceReport
metadata: {name: monthly, namespace: team}
spec:
  portal: {url: "http://127.0.0.1:9", tokenSecretRef: {name: docspace}}
  schedule: "0 3 1 * *"
  timeZone: UTC
  period: PreviousMonth
  report: {formats: [csv]}
  upload: {folderId: "1045"}'
deadline=$((SECONDS + 30))
until out="$(kc apply -f - <<<"$report_yaml" 2>&1)"; do
    ((SECONDS < deadline)) || die "cannot create ComplianceReport team/monthly: $out"
    sleep 1
done

# ---------------------------------------------------------------------------
# the operator
# ---------------------------------------------------------------------------

PORT="$(free_port)"
readonly PORT
OP_LOG="$STATE/operator.log"
log "starting $BIN on 127.0.0.1:$PORT${EXTRA_ARGS[*]:+ with ${EXTRA_ARGS[*]}}"
t_op=$EPOCHREALTIME
RUST_LOG=info "$BIN" run --kubeconfig "$KUBECONFIG" --no-leader-election \
    --listen "127.0.0.1:$PORT" "${EXTRA_ARGS[@]}" </dev/null >"$OP_LOG" 2>&1 &
OP_PID=$!

operator_died() {
    log "last lines of $OP_LOG:"
    tail -n 30 "$OP_LOG" >&2 || true
    die "the operator exited ($1)"
}


deadline=$((SECONDS + READY_TIMEOUT))
code=""
while :; do
    running "$OP_PID" || operator_died "before /readyz answered 200"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$PORT/readyz" 2>/dev/null)" || true
    [[ "$code" == 200 ]] && break
    if ((SECONDS >= deadline)); then
        log "last lines of $OP_LOG:"
        tail -n 30 "$OP_LOG" >&2 || true
        die "/readyz did not answer 200 within ${READY_TIMEOUT}s (last status: ${code:-none})"
    fi
    sleep 0.1
done
ready_after="$(awk -v a="$t_op" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')"
rss_at_ready="$(status_kib VmRSS)"
log "/readyz answered 200 after ${ready_after}s (RSS $(mib "$rss_at_ready") MiB); settling ${SETTLE_SECONDS}s"

for ((i = 0; i < SETTLE_SECONDS * 10; i++)); do
    running "$OP_PID" || operator_died "while settling after /readyz"
    sleep 0.1
done
rss="$(status_kib VmRSS)"
hwm="$(status_kib VmHWM)"

# tracing writes ANSI colours even to a file: strip them before matching the level.
errors="$(sed 's/\x1b\[[0-9;]*m//g' "$OP_LOG" | grep -c -E ' (ERROR|WARN) ' || true)"
((errors == 0)) || log "note: $OP_LOG has $errors WARN/ERROR lines"

printf 'bin=%s secrets=%s secret_kib=%s rss_mib=%s peak_rss_mib=%s rss_at_ready_mib=%s ready_after_s=%s\n' \
    "$(basename "$BIN")" "$SECRETS" "$SECRET_KIB" "$(mib "$rss")" "$(mib "$hwm")" \
    "$(mib "$rss_at_ready")" "$ready_after"

SUCCEEDED=1
