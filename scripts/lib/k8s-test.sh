# shellcheck shell=bash
# Shell functions shared by scripts/apiserver.sh and scripts/node.sh (sourced, not run). They
# read the sourcing script's MODULE_DIR and BINARIES and call its `log` and `die`.

# True when every binary of BINARIES exists in <dir> and is newer than go.mod, go.sum and the mains.
binaries_up_to_date() {
    local dir="$1" bin src
    for bin in "${BINARIES[@]}"; do
        [[ -x "$dir/$bin" ]] || return 1
        while IFS= read -r -d '' src; do
            [[ "$dir/$bin" -nt "$src" ]] || return 1
        done < <(find "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" "$MODULE_DIR/cmd/$bin" -type f \
                     \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0)
    done
}

version_ldflags() {
    local version="$1" major minor pkg
    major="${version#v}"; major="${major%%.*}"
    minor="${version#v*.}"; minor="${minor%%.*}"
    for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        printf -- "-X '%s.gitVersion=%s' -X '%s.gitMajor=%s' -X '%s.gitMinor=%s' " \
            "$pkg" "$version" "$pkg" "$major" "$pkg" "$minor"
    done
}

# A free loopback TCP port.
free_port() {
    local port i
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    die "no free loopback port found"
}

# running <pid>: the process exists and is not a zombie.
running() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# pid_alive <state> <name>: the pid in <name>.pid runs the binary <name>.
pid_alive() {
    local pidfile="$1/$2.pid" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    running "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "/$2 "
}

# write_kubeconfig <file> <url> <pki> <user>: client-certificate kubeconfig, data embedded.
write_kubeconfig() {
    local file="$1" url="$2" pki="$3" user="$4"
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: docspace-test
  cluster:
    server: $url
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$user.crt")
    client-key-data: $(base64 -w0 <"$pki/$user.key")
contexts:
- name: $user@docspace-test
  context:
    cluster: docspace-test
    user: $user
    namespace: default
current-context: $user@docspace-test
EOF
    chmod 600 "$file"
}

# terminate_pid <pid> <name> <seconds>: TERM, then KILL if still running after <seconds>.
terminate_pid() {
    local pid="$1" name="$2" timeout="$3" i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 5; i++)); do
        running "$pid" || break
        sleep 0.2
    done
    if running "$pid"; then
        log "$name (pid $pid) still running after ${timeout}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# stop_process <state> <name> [seconds]: TERM the pid in <name>.pid, then KILL after
# [seconds] (default STOP_TIMEOUT, else 20); removes the pid file.
stop_process() {
    local state="$1" name="$2" timeout="${3:-${STOP_TIMEOUT:-20}}" pid
    if pid_alive "$state" "$name"; then
        pid="$(<"$state/$name.pid")"
        terminate_pid "$pid" "$name" "$timeout"
        log "stopped $name (pid $pid)"
    fi
    rm -f "$state/$name.pid"
}
