#!/usr/bin/env bash
# A real Kubernetes API server (with a real etcd) for integration tests.
#
# The binaries are built from the published Kubernetes Go modules pinned in
# tests/apiserver/go.mod (see tests/apiserver/README.md).
#
#   scripts/apiserver.sh build              build kube-apiserver, etcd, kubectl (cached)
#   scripts/apiserver.sh start <state-dir>  certificates, etcd, kube-apiserver; waits for /readyz
#   scripts/apiserver.sh stop  <state-dir>  stops both processes (safe to call twice)
#   scripts/apiserver.sh bin-dir            prints the directory holding the binaries
#
# After `start`, <state-dir>/env holds KUBECONFIG, KUBECTL, APISERVER_URL (and a
# few more) as shell lines; admin.kubeconfig and operator.kubeconfig are there too.
#
# Environment:
#   DOCSPACE_OPERATOR_CACHE   cache root (default ~/.cache/docspace-compliance-operator);
#                             holds the binaries and Go's module and build caches
#   APISERVER_START_TIMEOUT   seconds to wait for etcd and /readyz (default 120)
#   APISERVER_STOP_TIMEOUT    seconds between TERM and KILL (default 20)
#   APISERVER_BUILD_NICE      niceness of the Go build (default 10)
#   APISERVER_EXTRA_ARGS      extra kube-apiserver flags (word-split)
#   APISERVER_WITH_CONTROLLERS 1: keep the ServiceAccount admission plugin (scripts/node.sh
#                             runs a controller-manager that creates the ServiceAccounts)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly MODULE_DIR="$REPO_ROOT/tests/apiserver"
readonly CACHE_ROOT="${DOCSPACE_OPERATOR_CACHE:-$HOME/.cache/docspace-compliance-operator}"
readonly START_TIMEOUT="${APISERVER_START_TIMEOUT:-120}"
readonly STOP_TIMEOUT="${APISERVER_STOP_TIMEOUT:-20}"
readonly BINARIES=(kube-apiserver etcd kubectl)

log() { printf 'apiserver.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/k8s-test.sh
source "$REPO_ROOT/scripts/lib/k8s-test.sh"

# The pinned release, read from the module's go.mod (single source of truth).
k8s_version() {
    local v
    v="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$MODULE_DIR/go.mod")"
    [[ -n "$v" ]] || die "cannot find the k8s.io/kubernetes version in $MODULE_DIR/go.mod"
    printf '%s\n' "$v"
}

bin_dir() { printf '%s/apiserver/%s/bin\n' "$CACHE_ROOT" "$(k8s_version)"; }

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

# Runs in a subshell so the build lock (fd 9) is released on return and is not
# inherited by the servers that `start` launches afterwards.
cmd_build() (
    command -v go >/dev/null || die "go is not installed (needs the version in $MODULE_DIR/go.mod or newer)"
    local version dir
    version="$(k8s_version)"
    dir="$(bin_dir)"
    mkdir -p "$dir"

    # One build at a time per cache (CI jobs on the same machine).
    exec 9>"$dir/../build.lock"
    flock 9

    if binaries_up_to_date "$dir"; then
        log "binaries for $version are up to date in $dir"
        return 0
    fi

    log "building kube-apiserver, etcd, kubectl $version into $dir (the first build takes many minutes)"
    local tmp start
    tmp="$(mktemp -d "$dir/../build.XXXXXX")"
    start=$SECONDS
    (
        cd "$MODULE_DIR"
        export CGO_ENABLED=0
        export GOMODCACHE="$CACHE_ROOT/go/mod"
        export GOCACHE="$CACHE_ROOT/go/build"
        export GOFLAGS="-modcacherw -buildvcs=false -mod=readonly"
        nice -n "${APISERVER_BUILD_NICE:-10}" \
            go build -trimpath -ldflags "-s -w $(version_ldflags "$version")" -o "$tmp/" \
            "${BINARIES[@]/#/./cmd/}" # only these: scripts/node.sh builds the node's mains
    ) || { rm -rf "$tmp"; die "go build failed"; }

    local bin
    for bin in "${BINARIES[@]}"; do
        mv -f "$tmp/$bin" "$dir/$bin"
    done
    rm -rf "$tmp"
    log "built in $((SECONDS - start))s"
)

# ---------------------------------------------------------------------------
# certificates
# ---------------------------------------------------------------------------

ensure_openssl() {
    command -v openssl >/dev/null && return 0
    log "openssl not found; installing it with apt-get"
    local sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl
}

# new_key <file>: an ECDSA P-256 private key (PKCS#8).
new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# sign_cert <pki> <name> <subject> <extensions>: <name>.key/.crt signed by the CA.
sign_cert() {
    local pki="$1" name="$2" subject="$3" ext="$4"
    new_key "$pki/$name.key"
    openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr"
    printf '%b\n' "$ext" >"$pki/$name.ext"
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
    rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# Generated once per state dir, reused by later starts.
generate_pki() {
    local pki="$1"
    [[ -s "$pki/operator.crt" ]] && return 0
    ensure_openssl
    mkdir -p "$pki"
    chmod 700 "$pki"

    new_key "$pki/ca.key"
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=docspace-test-ca" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$pki/ca.crt"

    local server_ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment"
    server_ext+="\nextendedKeyUsage=serverAuth"
    # 10.0.0.1: the "kubernetes" Service of --service-cluster-ip-range, which Pods on the node of
    # scripts/node.sh dial (KUBERNETES_SERVICE_HOST).
    server_ext+="\nsubjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    sign_cert "$pki" apiserver "/CN=kube-apiserver" "$server_ext"

    local client_ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment"
    client_ext+="\nextendedKeyUsage=clientAuth"
    # admin: member of system:masters, which RBAC always allows.
    sign_cert "$pki" admin "/O=system:masters/CN=admin" "$client_ext"
    # operator: a plain user with no group, so only RBAC bindings grant it anything.
    sign_cert "$pki" operator "/CN=docspace-operator" "$client_ext"

    # Service-account token signing key pair.
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
    openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
    rm -f "$pki/ca.srl"
}

# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

log_tail() {
    local file="$1"
    log "last lines of $file:"
    tail -n 30 "$file" >&2 || true
}

# While starting, "alive" is the launched pid existing: until the shell that forked it has
# exec'd the binary, its command line is still the shell's (pid_alive would say it exited).
wait_for_etcd() {
    local state="$1" deadline=$((SECONDS + START_TIMEOUT))
    until grep -q 'etcd: ready' "$state/logs/etcd.log" 2>/dev/null; do
        running "$(<"$state/etcd.pid")" || { log_tail "$state/logs/etcd.log"; die "etcd exited during startup"; }
        ((SECONDS < deadline)) || { log_tail "$state/logs/etcd.log"; die "etcd not ready after ${START_TIMEOUT}s"; }
        sleep 0.2
    done
}

wait_for_apiserver() {
    local state="$1" kubectl="$2" deadline=$((SECONDS + START_TIMEOUT)) out=""
    while :; do
        out="$("$kubectl" --kubeconfig "$state/admin.kubeconfig" --request-timeout=5s \
            get --raw /readyz 2>&1)" && [[ "$out" == ok ]] && return 0
        if ! running "$(<"$state/kube-apiserver.pid")"; then
            log_tail "$state/logs/kube-apiserver.log"
            die "kube-apiserver exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            log "last /readyz answer: $out"
            log_tail "$state/logs/kube-apiserver.log"
            die "kube-apiserver not ready after ${START_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

cmd_start() {
    local state="${1:-}"
    [[ -n "$state" ]] || die "usage: $0 start <state-dir>"
    mkdir -p "$state"
    state="$(cd "$state" && pwd)"
    if pid_alive "$state" etcd || pid_alive "$state" kube-apiserver; then
        die "already running in $state (run: $0 stop $state)"
    fi

    cmd_build
    local bin kubectl
    bin="$(bin_dir)"
    kubectl="$bin/kubectl"

    local t0=$SECONDS
    # On any failure below, stop whatever was started (the logs stay).
    # shellcheck disable=SC2064 # expand $state now
    trap "cmd_stop $(printf '%q' "$state")" EXIT
    generate_pki "$state/pki"
    mkdir -p "$state/logs"
    rm -rf "$state/etcd-data" # every start is a fresh, empty cluster

    local etcd_port peer_port api_port
    etcd_port="$(free_port)"
    peer_port="$(free_port)"
    while [[ "$peer_port" == "$etcd_port" ]]; do peer_port="$(free_port)"; done
    api_port="$(free_port)"
    while [[ "$api_port" == "$etcd_port" || "$api_port" == "$peer_port" ]]; do api_port="$(free_port)"; done
    local etcd_url="http://127.0.0.1:$etcd_port" url="https://127.0.0.1:$api_port"

    "$bin/etcd" --data-dir "$state/etcd-data" --listen-client-url "$etcd_url" \
        --listen-peer-url "http://127.0.0.1:$peer_port" --unsafe-no-fsync \
        </dev/null >"$state/logs/etcd.log" 2>&1 &
    echo $! >"$state/etcd.pid"
    wait_for_etcd "$state"

    local pki="$state/pki"
    local args=(
        --etcd-servers="$etcd_url"
        --bind-address=127.0.0.1
        --advertise-address=127.0.0.1
        --secure-port="$api_port"
        --cert-dir="$state/apiserver-certs"
        --tls-cert-file="$pki/apiserver.crt"
        --tls-private-key-file="$pki/apiserver.key"
        --client-ca-file="$pki/ca.crt"
        --authorization-mode=RBAC
        --service-account-issuer=https://kubernetes.default.svc.cluster.local
        --service-account-key-file="$pki/sa.pub"
        --service-account-signing-key-file="$pki/sa.key"
        --service-cluster-ip-range=10.0.0.0/24
        --allow-privileged=true
        # No Endpoints for the "kubernetes" Service (127.0.0.1 is not a valid endpoint).
        --endpoint-reconciler-type=none
        --profiling=false
    )
    if [[ "${APISERVER_WITH_CONTROLLERS:-0}" != 1 ]]; then
        # No controller-manager runs, so nothing creates the "default"
        # ServiceAccount that this admission plugin requires for Pods (as envtest).
        # scripts/node.sh runs one, and needs the plugin to mount Pods' tokens.
        args+=(--disable-admission-plugins=ServiceAccount)
    fi
    # shellcheck disable=SC2206 # word splitting is intended
    args+=(${APISERVER_EXTRA_ARGS:-})

    write_kubeconfig "$state/admin.kubeconfig" "$url" "$pki" admin
    write_kubeconfig "$state/operator.kubeconfig" "$url" "$pki" operator

    "$bin/kube-apiserver" "${args[@]}" </dev/null >"$state/logs/kube-apiserver.log" 2>&1 &
    echo $! >"$state/kube-apiserver.pid"
    wait_for_apiserver "$state" "$kubectl"

    {
        printf 'KUBECONFIG=%q\n' "$state/admin.kubeconfig"
        printf 'OPERATOR_KUBECONFIG=%q\n' "$state/operator.kubeconfig"
        printf 'KUBECTL=%q\n' "$kubectl"
        printf 'APISERVER_URL=%q\n' "$url"
        printf 'ETCD_URL=%q\n' "$etcd_url"
        printf 'APISERVER_CA=%q\n' "$pki/ca.crt"
        printf 'K8S_VERSION=%q\n' "$(k8s_version)"
    } >"$state/env"
    trap - EXIT
    log "kube-apiserver ready at $url in $((SECONDS - t0))s; env in $state/env"
}

cmd_stop() {
    local state="${1:-}"
    [[ -n "$state" ]] || die "usage: $0 stop <state-dir>"
    [[ -d "$state" ]] || return 0
    stop_process "$state" kube-apiserver
    stop_process "$state" etcd
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        build) cmd_build ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        bin-dir) bin_dir ;;
        *) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
