#!/usr/bin/env bash
# Builds the operator image without pulling any base image: a static binary built on the host,
# put with the host's CA bundle into a FROM-scratch image (Dockerfile.prebuilt).
#
#   scripts/image.sh binary                  builds the static binary; prints its path
#   scripts/image.sh context DIR             lays out the build context of Dockerfile.prebuilt in DIR
#   scripts/image.sh daemon-start DIR        starts a private dockerd (state in DIR); prints DOCKER_HOST
#   scripts/image.sh daemon-stop DIR         stops it (safe to repeat)
#   scripts/image.sh build TAG               binary + context + `docker build` with the docker in use
#                                            (DOCKER_HOST, else the default socket)
#
# Environment:
#   IMAGE_PROFILE   cargo profile of the binary (default release)
#   RUST_TARGET     target triple (default x86_64-unknown-linux-gnu)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly PROFILE="${IMAGE_PROFILE:-release}"
readonly TARGET="${RUST_TARGET:-x86_64-unknown-linux-gnu}"
readonly BIN=docspace-compliance-operator
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { printf 'image.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

profile_dir() {
    if [[ "$PROFILE" == dev ]]; then echo debug; else echo "$PROFILE"; fi
}

cmd_binary() {
    local out
    out="$REPO_ROOT/target/$TARGET/$(profile_dir)/$BIN"
    log "building a static $BIN ($PROFILE, $TARGET)"
    (
        cd "$REPO_ROOT"
        # Run from `cargo test`, the test's cargo variables would look like changes to build
        # scripts that watch them (ring watches CARGO_MANIFEST_DIR) and rebuild everything.
        for var in $(compgen -e); do
            case "$var" in
                CARGO_MANIFEST_* | CARGO_PKG_* | CARGO_BIN_EXE_* | CARGO_CRATE_* | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | RUST_RECURSION_COUNT) unset "$var" ;;
            esac
        done
        # Without the default `demo` feature: the DocSpace simulator stays out of the image.
        RUSTFLAGS='-C target-feature=+crt-static' \
            cargo build --locked --profile "$PROFILE" --target "$TARGET" \
                -p "$BIN" --no-default-features --bin "$BIN" >&2
    ) || die "cargo build of the static binary failed"
    # A dynamic binary cannot run in a FROM-scratch image.
    if command -v file >/dev/null && ! file -L "$out" | grep -Eq 'statically linked|static-pie linked'; then
        die "$out is not statically linked: $(file -L "$out")"
    fi
    printf '%s\n' "$out"
}

cmd_context() {
    local dir="${1:?usage: image.sh context DIR}" binary
    [[ -s "$CA_BUNDLE" ]] || die "$CA_BUNDLE is missing (apt-get install ca-certificates)"
    binary="$(cmd_binary)"
    rm -rf "$dir/rootfs"
    mkdir -p "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/tmp"
    chmod 1777 "$dir/rootfs/tmp"
    install -m 0755 "$binary" "$dir/rootfs/$BIN"
    install -m 0644 "$CA_BUNDLE" "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
    printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$dir/rootfs/etc/passwd"
    printf 'nonroot:x:65532:\n' >"$dir/rootfs/etc/group"
    chmod 0644 "$dir/rootfs/etc/passwd" "$dir/rootfs/etc/group"
    cp "$REPO_ROOT/Dockerfile.prebuilt" "$dir/Dockerfile.prebuilt"
    log "build context ready in $dir"
}

docker_client() {
    # The client that comes with Debian's docker.io matches its dockerd.
    if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker || die "docker is not installed"; fi
}

cmd_daemon_start() {
    local dir="${1:?usage: image.sh daemon-start DIR}" docker sock
    command -v dockerd >/dev/null || die "dockerd is not installed (scripts/test-tools.sh install, or apt-get install docker.io)"
    docker="$(docker_client)"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    sock="$dir/docker.sock"
    (( ${#sock} < 100 )) || die "socket path too long for a unix socket: $sock"
    if [[ -S "$sock" ]] && DOCKER_HOST="unix://$sock" "$docker" version >/dev/null 2>&1; then
        printf 'unix://%s\n' "$sock"
        return 0
    fi
    # No bridge, NAT or iptables: builds from scratch need no network, and containers use the
    # host's network (--network host) or none.
    setsid dockerd --iptables=false --ip-masq=false --bridge=none \
        -H "unix://$sock" --data-root "$dir/root" --exec-root "$dir/exec" \
        --pidfile "$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 </dev/null &
    local i
    for ((i = 0; i < 120; i++)); do
        if DOCKER_HOST="unix://$sock" "$docker" version >/dev/null 2>&1; then
            printf 'unix://%s\n' "$sock"
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$dir/dockerd.log" >&2 || true
    cmd_daemon_stop "$dir"
    die "dockerd did not start within 60 s (log: $dir/dockerd.log)"
}

cmd_daemon_stop() {
    local dir="${1:?usage: image.sh daemon-stop DIR}" pid i
    [[ -f "$dir/dockerd.pid" ]] || return 0
    pid="$(cat "$dir/dockerd.pid")"
    if [[ -n "$pid" ]] && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/dockerd.pid"
    # Layers of the private daemon: overlay mounts first, then the files.
    if [[ -d "$dir/root" ]]; then
        grep -o " $dir/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf "$dir/root" "$dir/exec" 2>/dev/null || true
    fi
}

cmd_build() {
    local tag="${1:?usage: image.sh build TAG}" ctx
    ctx="$(mktemp -d)"
    trap 'rm -rf "$ctx"' RETURN
    cmd_context "$ctx"
    DOCKER_BUILDKIT=0 "$(docker_client)" build -f "$ctx/Dockerfile.prebuilt" -t "$tag" "$ctx" >&2
    log "built $tag"
}

case "${1:-}" in
    binary) cmd_binary ;;
    context) shift; cmd_context "$@" ;;
    daemon-start) shift; cmd_daemon_start "$@" ;;
    daemon-stop) shift; cmd_daemon_stop "$@" ;;
    build) shift; cmd_build "$@" ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
