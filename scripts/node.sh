#!/usr/bin/env bash
# A one-node Kubernetes cluster for integration tests that run the chart's Pods: the API
# server of scripts/apiserver.sh plus kube-controller-manager, kube-scheduler and a kubelet
# (built from the same pinned Kubernetes Go modules, tests/apiserver/go.mod), with the
# machine's containerd and runc and a bridge CNI network of its own. Needs root.
#
#   scripts/node.sh build                    build kubelet, controller-manager, scheduler, pause
#                                            (cached beside the API server's binaries)
#   scripts/node.sh start <state-dir>        everything; returns once the Node is Ready
#   scripts/node.sh load-image <state-dir> <docker-image>
#                                            `docker save` the image into the node's containerd
#   scripts/node.sh expose <state-dir> <port>
#                                            let Pods reach 127.0.0.1:<port> of the host at
#                                            $NODE_GATEWAY:<port> (a simulator, say)
#   scripts/node.sh stop <state-dir>         stops and removes everything (safe to repeat)
#
# After `start`, <state-dir>/env holds what scripts/apiserver.sh writes plus NODE_NAME,
# NODE_GATEWAY, POD_SUBNET, CONTAINERD_ADDRESS and CTR.
#
# Environment:
#   DOCSPACE_OPERATOR_CACHE   cache root, as for scripts/apiserver.sh
#   NODE_START_TIMEOUT        seconds to wait for the Node to be Ready (default 120)
#   NODE_BRIDGE               the Pods' bridge (default dsonode0; one node per bridge)
#   NODE_POD_SUBNET           its /24 (default 10.244.77.0/24; .1 is the host's address)
#   APISERVER_*               passed on to scripts/apiserver.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly MODULE_DIR="$REPO_ROOT/tests/apiserver"
readonly APISERVER_SH="$REPO_ROOT/scripts/apiserver.sh"
readonly CACHE_ROOT="${DOCSPACE_OPERATOR_CACHE:-$HOME/.cache/docspace-compliance-operator}"
readonly START_TIMEOUT="${NODE_START_TIMEOUT:-120}"
readonly BINARIES=(kubelet kube-controller-manager kube-scheduler pause)
readonly NODE_NAME=docspace-node
readonly BRIDGE="${NODE_BRIDGE:-dsonode0}"
readonly POD_SUBNET="${NODE_POD_SUBNET:-10.244.77.0/24}"
readonly GATEWAY="${POD_SUBNET%.*}.1"
# The first address of scripts/apiserver.sh's --service-cluster-ip-range: the "kubernetes"
# Service that kubelets hand to Pods as KUBERNETES_SERVICE_HOST.
readonly KUBERNETES_SERVICE_IP=10.0.0.1
readonly PAUSE_IMAGE=localhost/docspace-test/pause:1
readonly CHAIN=DSO-NODE
# Fixed paths outside the state dir: the kubelet's device-plugin socket and container log
# links, libcni's result cache, containerd 1.6's shim sockets (/run/containerd/s).
readonly HOST_DIRS=(/var/lib/kubelet /var/log/containers /var/lib/cni /run/containerd)
# What the kubelet changes on the host (setupKernelTunables); `stop` puts the values back.
readonly SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

log() { printf 'node.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/k8s-test.sh
source "$REPO_ROOT/scripts/lib/k8s-test.sh"

k8s_version() {
    awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$MODULE_DIR/go.mod"
}
bin_dir() { "$APISERVER_SH" bin-dir; }

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

# Same caches, flags and lock as scripts/apiserver.sh build (subshell: the lock is released).
cmd_build() (
    "$APISERVER_SH" build
    local version dir
    version="$(k8s_version)"
    dir="$(bin_dir)"
    exec 9>"$dir/../build.lock"
    flock 9
    if binaries_up_to_date "$dir"; then
        log "node binaries for $version are up to date in $dir"
        return 0
    fi
    log "building ${BINARIES[*]} $version into $dir (the first build takes minutes)"
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
            "${BINARIES[@]/#/./cmd/}"
    ) || { rm -rf "$tmp"; die "go build failed"; }
    local bin
    for bin in "${BINARIES[@]}"; do
        mv -f "$tmp/$bin" "$dir/$bin"
    done
    rm -rf "$tmp"
    log "built in $((SECONDS - start))s"
)

# ---------------------------------------------------------------------------
# host tools
# ---------------------------------------------------------------------------

# Debian packages of the runtime, installed when missing (as scripts/test-tools.sh does).
ensure_packages() {
    local missing=() pair
    for pair in containerd:containerd ctr:containerd containerd-shim-runc-v2:containerd \
        runc:runc /usr/lib/cni/bridge:containernetworking-plugins \
        /usr/lib/cni/host-local:containernetworking-plugins /usr/lib/cni/loopback:containernetworking-plugins \
        iptables:iptables ip:iproute2 openssl:openssl flock:util-linux; do
        local what="${pair%%:*}" pkg="${pair#*:}"
        if [[ "$what" == /* ]]; then [[ -x "$what" ]] && continue; else command -v "$what" >/dev/null && continue; fi
        [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ "$(id -u)" -eq 0 ]] || die "missing Debian packages: ${missing[*]} (run as root to install them)"
    log "installing ${missing[*]} with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------------------
# certificates and kubeconfigs (the CA of scripts/apiserver.sh)
# ---------------------------------------------------------------------------

sign_client_cert() {
    local pki="$1" name="$2" subject="$3"
    [[ -s "$pki/$name.crt" ]] && return 0
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
    openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=clientAuth" >"$pki/$name.ext"
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
    rm -f "$pki/$name.csr" "$pki/$name.ext" "$pki/ca.srl"
}

# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

# launch <state> <name> <binary> <args...>: in the background, log in logs/<name>.log.
launch() {
    local state="$1" name="$2"
    shift 2
    "$@" </dev/null >"$state/logs/$name.log" 2>&1 &
    echo $! >"$state/$name.pid"
}

log_tail() {
    log "last lines of $1:"
    tail -n 40 "$1" >&2 || true
}

# wait_until <state> <what> <process> <command...>: polls the command until it succeeds.
wait_until() {
    local state="$1" what="$2" process="$3" deadline=$((SECONDS + START_TIMEOUT))
    shift 3
    until "$@" >/dev/null 2>&1; do
        if ! running "$(<"$state/$process.pid")"; then
            log_tail "$state/logs/$process.log"
            die "$process exited while waiting for $what"
        fi
        if ((SECONDS >= deadline)); then
            log_tail "$state/logs/$process.log"
            die "$what: not after ${START_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------
# network: a bridge with the host at $GATEWAY; Pods reach the API server through the
# "kubernetes" Service address, NATed to the API server's loopback port.
# ---------------------------------------------------------------------------

setup_network() {
    local state="$1" api_port="$2"
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        die "the bridge $BRIDGE exists: another node runs (scripts/node.sh stop <its state dir>), or set NODE_BRIDGE and NODE_POD_SUBNET"
    fi
    ip link add "$BRIDGE" type bridge # fails if another start just made it
    echo "$BRIDGE" >"$state/bridge"   # from here on, `stop` removes the bridge and the rules
    ip addr add "$GATEWAY/${POD_SUBNET#*/}" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    # DNAT to 127.0.0.1 needs route_localnet on the interface the packets come in by.
    sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
    iptables -w -t nat -N "$CHAIN"
    iptables -w -t nat -A PREROUTING -i "$BRIDGE" -j "$CHAIN"
    iptables -w -t nat -A "$CHAIN" -d "$KUBERNETES_SERVICE_IP/32" -p tcp --dport 443 \
        -j DNAT --to-destination "127.0.0.1:$api_port"
    # Pods talk to this host only: nothing from the bridge is forwarded anywhere, even if
    # something turns on ip_forward (the bridge plugin does not: isGateway is false).
    iptables -w -N "$CHAIN"
    iptables -w -A FORWARD -i "$BRIDGE" -j "$CHAIN"
    iptables -w -A FORWARD -o "$BRIDGE" -j "$CHAIN"
    iptables -w -A "$CHAIN" -j DROP

    mkdir -p "$state/cni/net.d" "$state/cni/ipam"
    # No isGateway/ipMasq: the script gave the bridge its address; Pods get routes to the
    # bridge's subnet and to the Service range through the host, and no default route.
    cat >"$state/cni/net.d/10-docspace.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "docspace-test",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$state/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$GATEWAY"}]],
        "routes": [{"dst": "10.0.0.0/24", "gw": "$GATEWAY"}]
      }
    }
  ]
}
EOF
}

cmd_expose() {
    local state="${1:-}" port="${2:-}"
    [[ -n "$state" && "$port" =~ ^[0-9]+$ ]] || die "usage: $0 expose <state-dir> <port>"
    iptables -w -t nat -A "$CHAIN" -d "$GATEWAY/32" -p tcp --dport "$port" \
        -j DNAT --to-destination "127.0.0.1:$port"
    log "Pods reach 127.0.0.1:$port at $GATEWAY:$port"
}

teardown_network() {
    local state="$1" bridge
    [[ -s "$state/bridge" ]] || return 0
    bridge="$(<"$state/bridge")"
    iptables -w -t nat -D PREROUTING -i "$bridge" -j "$CHAIN" 2>/dev/null || true
    iptables -w -t nat -F "$CHAIN" 2>/dev/null || true
    iptables -w -t nat -X "$CHAIN" 2>/dev/null || true
    iptables -w -D FORWARD -i "$bridge" -j "$CHAIN" 2>/dev/null || true
    iptables -w -D FORWARD -o "$bridge" -j "$CHAIN" 2>/dev/null || true
    iptables -w -F "$CHAIN" 2>/dev/null || true
    iptables -w -X "$CHAIN" 2>/dev/null || true
    ip link del "$bridge" 2>/dev/null || true
    rm -f "$state/bridge"
}

# ---------------------------------------------------------------------------
# containerd, with its own config, root, state and socket
# ---------------------------------------------------------------------------

write_containerd_config() {
    local state="$1" c="$1/containerd"
    mkdir -p "$c/root" "$c/state" "$c/opt"
    cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Clamp containers' oom_score_adj to containerd's own: lowering it needs CAP_SYS_RESOURCE,
  # which root lacks in some sandboxes (runc then fails with "can't get final child's PID").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${NODE_RUNC:-$(command -v runc)}"
        Root = "$c/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
    max_conf_num = 1
EOF
}

ctr_() { ctr --address "$STATE/containerd/containerd.sock" -n k8s.io "$@"; }

# The sandbox image: the pause binary alone, as an OCI image archive for `ctr images import`.
import_pause_image() {
    local state="$1" bin="$2" dir="$1/pause-image" config manifest
    rm -rf "$dir"
    mkdir -p "$dir/rootfs" "$dir/oci/blobs/sha256"
    install -m 0755 "$bin/pause" "$dir/rootfs/pause"
    tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$dir/rootfs" -cf "$dir/layer.tar" pause
    local layer_sha layer_size
    layer_sha="$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)"
    layer_size="$(stat -c %s "$dir/layer.tar")"
    mv "$dir/layer.tar" "$dir/oci/blobs/sha256/$layer_sha"
    config='{"architecture":"amd64","os":"linux","config":{"User":"65535:65535","Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer_sha"'"]}}'
    local config_sha
    config_sha="$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)"
    printf '%s' "$config" >"$dir/oci/blobs/sha256/$config_sha"
    manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config_sha"'","size":'"${#config}"'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:'"$layer_sha"'","size":'"$layer_size"'}]}'
    local manifest_sha
    manifest_sha="$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)"
    printf '%s' "$manifest" >"$dir/oci/blobs/sha256/$manifest_sha"
    printf '%s' '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest_sha"'","size":'"${#manifest}"',"annotations":{"io.containerd.image.name":"'"$PAUSE_IMAGE"'","org.opencontainers.image.ref.name":"1"}}]}' \
        >"$dir/oci/index.json"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci/oci-layout"
    tar -C "$dir/oci" -cf "$dir/pause.tar" oci-layout index.json blobs
    ctr_ images import --no-unpack=false "$dir/pause.tar" >/dev/null
    ctr_ images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null
}

# ---------------------------------------------------------------------------
# start / stop
# ---------------------------------------------------------------------------

cmd_start() {
    local state="${1:-}"
    [[ -n "$state" ]] || die "usage: $0 start <state-dir>"
    [[ "$(id -u)" -eq 0 ]] || die "the kubelet and containerd need root"
    mkdir -p "$state"
    state="$(cd "$state" && pwd)"
    STATE="$state"
    local name
    for name in kubelet containerd kube-scheduler kube-controller-manager; do
        pid_alive "$state" "$name" && die "already running in $state (run: $0 stop $state)"
    done
    # Checked before anything starts: `stop` of a failed start must not touch another node.
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        die "the bridge $BRIDGE exists: another node runs (scripts/node.sh stop <its state dir>), or set NODE_BRIDGE and NODE_POD_SUBNET"
    fi
    ensure_packages
    cmd_build
    local bin kubectl t0=$SECONDS
    bin="$(bin_dir)"
    kubectl="$bin/kubectl"
    # shellcheck disable=SC2064 # expand $state now
    trap "cmd_stop $(printf '%q' "$state")" EXIT
    mkdir -p "$state/logs"

    # The API server: the Node authorizer for the kubelet's identity, the ServiceAccount
    # admission plugin (Pods get their tokens), and a client certificate for logs/exec.
    local pki="$state/pki"
    APISERVER_WITH_CONTROLLERS=1 \
        APISERVER_EXTRA_ARGS="--authorization-mode=Node --kubelet-client-certificate=$pki/admin.crt --kubelet-client-key=$pki/admin.key --kubelet-preferred-address-types=InternalIP ${APISERVER_EXTRA_ARGS:-}" \
        "$APISERVER_SH" start "$state"
    local url api_port
    # shellcheck disable=SC1091 # written by apiserver.sh start
    url="$(. "$state/env" && printf '%s' "$APISERVER_URL")"
    api_port="${url##*:}"

    sign_client_cert "$pki" node "/O=system:nodes/CN=system:node:$NODE_NAME"
    sign_client_cert "$pki" controller-manager "/CN=system:kube-controller-manager"
    sign_client_cert "$pki" scheduler "/CN=system:kube-scheduler"
    write_kubeconfig "$state/node.kubeconfig" "$url" "$pki" node
    write_kubeconfig "$state/controller-manager.kubeconfig" "$url" "$pki" controller-manager
    write_kubeconfig "$state/scheduler.kubeconfig" "$url" "$pki" scheduler

    local s
    : >"$state/sysctl.orig"
    for s in "${SYSCTLS[@]}"; do
        printf '%s=%s\n' "$s" "$(sysctl -n "$s")" >>"$state/sysctl.orig"
    done

    launch "$state" kube-controller-manager "$bin/kube-controller-manager" \
        --kubeconfig="$state/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$state/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$state/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$(free_port)" \
        --cert-dir="$state/controller-manager-certs" \
        --leader-elect=false \
        --use-service-account-credentials=true \
        --service-account-private-key-file="$pki/sa.key" \
        --root-ca-file="$pki/ca.crt" \
        --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
        --allocate-node-cidrs=false \
        --profiling=false
    launch "$state" kube-scheduler "$bin/kube-scheduler" \
        --kubeconfig="$state/scheduler.kubeconfig" \
        --authentication-kubeconfig="$state/scheduler.kubeconfig" \
        --authorization-kubeconfig="$state/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$(free_port)" \
        --cert-dir="$state/scheduler-certs" \
        --leader-elect=false \
        --profiling=false

    setup_network "$state" "$api_port"
    write_containerd_config "$state"
    local sock="$state/containerd/containerd.sock"
    (( ${#sock} < 100 )) || die "socket path too long for a unix socket: $sock"
    launch "$state" containerd "$(command -v containerd)" --config "$state/containerd/config.toml"
    wait_until "$state" "containerd's socket" containerd ctr --address "$sock" version
    import_pause_image "$state" "$bin"

    # The kubelet: the node's identity, the private containerd, cgroup v1 allowed.
    local kubelet_port healthz_port swap
    kubelet_port="$(free_port)"
    healthz_port="$(free_port)"
    swap=true
    [[ "$(awk 'NR > 1' /proc/swaps | wc -l)" -eq 0 ]] || swap=false
    mkdir -p "$state/kubelet" "$state/pod-logs"
    printf '# no DNS for Pods of the test node\n' >"$state/resolv.conf"
    cat >"$state/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $GATEWAY
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: $swap
resolvConf: $state/resolv.conf
podLogsDir: $state/pod-logs
podCIDR: $POD_SUBNET
maxPods: 30
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
evictionPressureTransitionPeriod: 10s
shutdownGracePeriod: 0s
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
EOF
    : >"$state/kubepods" # `stop` removes the kubelet's cgroups
    # Host paths the kubelet and CNI use whatever their root dirs: `stop` removes what this node
    # left there, and the directories themselves when this start made them.
    local d
    : >"$state/host-dirs"
    for d in "${HOST_DIRS[@]}"; do
        [[ -e "$d" ]] || echo "$d" >>"$state/host-dirs"
    done
    launch "$state" kubelet "$bin/kubelet" \
        --config="$state/kubelet.yaml" \
        --kubeconfig="$state/node.kubeconfig" \
        --hostname-override="$NODE_NAME" \
        --node-ip="$GATEWAY" \
        --root-dir="$state/kubelet" \
        --cert-dir="$state/kubelet/pki"

    wait_until "$state" "Node $NODE_NAME Ready" kubelet \
        "$kubectl" --kubeconfig "$state/admin.kubeconfig" wait --for=condition=Ready \
        --timeout=5s "node/$NODE_NAME"
    # The ServiceAccount controller of the controller-manager works.
    wait_until "$state" "the default ServiceAccount" kube-controller-manager \
        "$kubectl" --kubeconfig "$state/admin.kubeconfig" get serviceaccount default
    {
        printf 'NODE_NAME=%q\n' "$NODE_NAME"
        printf 'NODE_GATEWAY=%q\n' "$GATEWAY"
        printf 'POD_SUBNET=%q\n' "$POD_SUBNET"
        printf 'CONTAINERD_ADDRESS=%q\n' "$sock"
        printf 'CTR=%q\n' "$(command -v ctr)"
    } >>"$state/env"
    trap - EXIT
    log "node $NODE_NAME Ready in $((SECONDS - t0))s; env in $state/env"
}

cmd_load_image() {
    local state="${1:-}" image="${2:-}"
    [[ -n "$state" && -n "$image" ]] || die "usage: $0 load-image <state-dir> <docker-image>"
    state="$(cd "$state" && pwd)"
    STATE="$state"
    local docker=docker
    [[ -x /usr/bin/docker ]] && docker=/usr/bin/docker
    "$docker" save "$image" | ctr_ images import --no-unpack=false - >&2
    log "imported $image into the node's containerd"
}

# Every container of the node's containerd: stopped, removed.
remove_containers() {
    local state="$1" sock="$1/containerd/containerd.sock" id
    STATE="$state"
    [[ -S "$sock" ]] && pid_alive "$state" containerd || return 0
    for id in $(ctr_ tasks ls -q 2>/dev/null); do
        ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for id in $(ctr_ tasks ls -q 2>/dev/null); do
        ctr_ tasks rm -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_ containers ls -q 2>/dev/null); do
        ctr_ containers rm "$id" >/dev/null 2>&1 || true
    done
}

# Shims of this containerd (they outlive it by design).
kill_shims() {
    local state="$1" pid
    for pid in $(pgrep -f containerd-shim-runc-v2 || true); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-address $state/containerd/containerd.sock "; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

unmount_under() {
    local dir="$1" m
    grep -o " $dir/[^ ]*" /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}

# What this node left outside its state dir (see HOST_DIRS).
clean_host_dirs() {
    local state="$1" d id
    [[ -e "$state/host-dirs" ]] || return 0
    if [[ -d /var/log/containers ]]; then
        find /var/log/containers -maxdepth 1 -type l -lname "$state/*" -delete 2>/dev/null || true
    fi
    # libcni caches results by sandbox id; containers killed without a CNI DEL leave them.
    if [[ -d /var/lib/cni/results && -d "$state/containerd/root" ]]; then
        for d in "$state"/containerd/state/io.containerd.grpc.v1.cri/sandboxes/*/; do
            [[ -d "$d" ]] || continue
            id="$(basename "$d")"
            rm -f /var/lib/cni/results/docspace-test-"$id"-* /var/lib/cni/results/cni-loopback-"$id"-*
        done
    fi
    while IFS= read -r d; do
        [[ -n "$d" && -d "$d" ]] || continue
        rm -f "$d/device-plugins/kubelet.sock"
        find "$d" -depth -type d -empty -delete 2>/dev/null || true
    done <"$state/host-dirs"
    rm -f "$state/host-dirs"
}

# The kubelet's cgroups (kubepods) in every v1 hierarchy, deepest first.
remove_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
        [[ -d "$d" ]] || continue
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}

cmd_stop() {
    local state="${1:-}"
    [[ -n "$state" ]] || die "usage: $0 stop <state-dir>"
    [[ -d "$state" ]] || return 0
    state="$(cd "$state" && pwd)"
    stop_process "$state" kubelet
    stop_process "$state" kube-scheduler
    stop_process "$state" kube-controller-manager
    remove_containers "$state"
    stop_process "$state" containerd
    kill_shims "$state"
    unmount_under "$state"
    teardown_network "$state"
    clean_host_dirs "$state"
    if [[ -e "$state/kubepods" ]]; then
        remove_cgroups
        rm -f "$state/kubepods"
    fi
    if [[ -s "$state/sysctl.orig" ]]; then
        sysctl -q -p "$state/sysctl.orig" >/dev/null 2>&1 || true
        rm -f "$state/sysctl.orig"
    fi
    "$APISERVER_SH" stop "$state"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        build) cmd_build ;;
        start) cmd_start "$@" ;;
        load-image) cmd_load_image "$@" ;;
        expose) cmd_expose "$@" ;;
        stop) cmd_stop "$@" ;;
        *) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
