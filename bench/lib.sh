# Helpers shared by the benchmark scripts; sourced after they define `log`, `die`, T_START and
# (for status_kib) OP_PID.
# shellcheck shell=bash

# free_port, running and terminate_pid come from the test scripts' library.
# shellcheck source=scripts/lib/k8s-test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/k8s-test.sh"

# Seconds since the script started (or since $1, an EPOCHREALTIME), one decimal.
elapsed() { awk -v a="${1:-$T_START}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# stop_pid <pid> <what>: TERM, then KILL after 10 s.
stop_pid() {
    if running "$1"; then
        terminate_pid "$1" "$2" 10
    fi
    wait "$1" 2>/dev/null || true
}

# status_kib <field>: VmRSS or VmHWM of the operator, in KiB.
status_kib() {
    awk -v f="$1:" '$1 == f { print $2; found = 1 } END { exit !found }' "/proc/$OP_PID/status" \
        || die "cannot read $1 of pid $OP_PID"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
