//! A one-node cluster that runs Pods (scripts/node.sh: the API server of scripts/apiserver.sh,
//! kube-controller-manager, kube-scheduler, a kubelet, the machine's containerd and runc), the
//! operator image built from scratch and loaded into the node, and the host-side views of a
//! Pod's containers that a FROM-scratch image cannot give through `kubectl exec`.

use std::collections::HashMap;
use std::process::{Command, Output, Stdio};

use crate::support::kube::ApiServer;
use crate::support::tools::{ROOT, text, tool};

/// The node's API server (as [`ApiServer`]: kubectl, apply, wait_for, ...) and the rest of the
/// node; everything is stopped, unmounted and removed on drop.
pub struct Node {
    pub server: ApiServer,
}

/// Whether this process may run a node (the kubelet and containerd need root).
pub fn can_run() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        Ok(())
    } else {
        Err(format!(
            "scripts/node.sh needs root (the kubelet and containerd), this test runs as uid {uid}"
        ))
    }
}

fn node_sh(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(format!("{ROOT}/scripts/node.sh"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/node.sh runs")
}

impl Node {
    /// Builds what is missing (cached) and starts the node; returns once the Node is Ready and
    /// the controller-manager has made the `default` ServiceAccount.
    pub fn start() -> Self {
        if let Err(why) = can_run() {
            panic!("{why}");
        }
        // A short path: containerd's sockets live in it.
        let state = tempfile::Builder::new()
            .prefix("dco-node")
            .tempdir_in("/tmp")
            .unwrap();
        let out = node_sh(&["start", &state.path().display().to_string()], &[]);
        let env = std::fs::read_to_string(state.path().join("env"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
            .collect::<HashMap<_, _>>();
        let node = Self {
            server: ApiServer { state, env },
        };
        assert!(
            out.status.success(),
            "the node did not start (see the log above; logs in {})",
            node.server.state.path().join("logs").display()
        );
        node
    }

    pub fn env(&self, name: &str) -> &str {
        &self.server.env[name]
    }

    /// The host's address on the Pods' bridge.
    pub fn gateway(&self) -> &str {
        self.env("NODE_GATEWAY")
    }

    /// Lets Pods reach the host's `127.0.0.1:port` at `gateway():port`.
    pub fn expose(&self, port: u16) {
        let out = node_sh(
            &[
                "expose",
                &self.server.state.path().display().to_string(),
                &port.to_string(),
            ],
            &[],
        );
        assert!(out.status.success(), "scripts/node.sh expose failed");
    }

    /// `docker save`s `image` of the docker at `docker_host` into the node's containerd.
    pub fn load_image(&self, docker_host: &str, image: &str) {
        let out = node_sh(
            &[
                "load-image",
                &self.server.state.path().display().to_string(),
                image,
            ],
            &[("DOCKER_HOST", docker_host)],
        );
        assert!(out.status.success(), "scripts/node.sh load-image failed");
    }

    /// `ctr` against the node's containerd, in the kubelet's namespace.
    pub fn ctr(&self, args: &[&str]) -> String {
        let out = Command::new(self.env("CTR"))
            .arg("--address")
            .arg(self.env("CONTAINERD_ADDRESS"))
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ctr {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// The OCI runtime spec containerd gave a container (`containerd://<id>` or `<id>`).
    pub fn container_spec(&self, container_id: &str) -> serde_json::Value {
        let id = container_id.trim_start_matches("containerd://");
        let info: serde_json::Value =
            serde_json::from_str(&self.ctr(&["containers", "info", id])).unwrap();
        info["Spec"].clone()
    }

    /// The host PID of a container's process.
    pub fn container_pid(&self, container_id: &str) -> u32 {
        let id = container_id.trim_start_matches("containerd://");
        self.ctr(&["tasks", "ls"])
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(id)).then(|| f.next().unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no task for container {id}"))
    }

    /// A kubelet or component log, for failure messages.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.server.state.path().join(format!("logs/{name}.log")))
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Then ApiServer's drop stops the API server again (a no-op) and removes the state.
        let _ = node_sh(
            &["stop", &self.server.state.path().display().to_string()],
            &[],
        );
    }
}

/// A field of `/proc/<pid>/status` (e.g. `Uid`), whitespace-separated.
pub fn proc_status(pid: u32, field: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The mount options of `mount_point` as the process `pid` sees it (its mount namespace).
pub fn mount_options(pid: u32, mount_point: &str) -> Vec<String> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    info.lines()
        .rfind(|l| l.split_whitespace().nth(4) == Some(mount_point))
        .unwrap_or_else(|| panic!("{mount_point} is not a mount point of pid {pid}:\n{info}"))
        .split_whitespace()
        .nth(5)
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// The value of a `docspace_compliance_<series>` sample in a metrics text, 0 when absent.
pub fn metric(metrics: &str, series: &str) -> f64 {
    let name = format!("docspace_compliance_{series}");
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(&name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// A private dockerd (scripts/image.sh daemon-start), stopped on drop.
pub struct Docker {
    pub dir: tempfile::TempDir,
    pub host: String,
}

impl Docker {
    pub fn start() -> Self {
        tool("dockerd");
        let dir = tempfile::Builder::new()
            .prefix("dco-docker")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new(format!("{ROOT}/scripts/image.sh"))
            .args(["daemon-start", &dir.path().display().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "dockerd did not start");
        let host = text(&out.stdout).trim().to_owned();
        Self { dir, host }
    }

    /// `scripts/image.sh build tag`: the static binary, FROM scratch.
    pub fn build_operator_image(&self, tag: &str) {
        let status = Command::new(format!("{ROOT}/scripts/image.sh"))
            .args(["build", tag])
            .env("DOCKER_HOST", &self.host)
            .status()
            .unwrap();
        assert!(status.success(), "scripts/image.sh build {tag} failed");
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/image.sh"))
            .args(["daemon-stop", &self.dir.path().display().to_string()])
            .status();
    }
}

/// Tries to create (then removes) the file `path` as the container process `pid` sees it: a
/// helper process joins that process's mount namespace (so `/` is the container's root file
/// system) and, with `uid`, takes that user and group first. `Ok` when the write succeeds,
/// otherwise the errno name (`EROFS`, `EACCES`, ...). Needs root and python3 (a multithreaded
/// process such as this test cannot join a mount namespace itself).
pub fn try_write(pid: u32, path: &str, uid: Option<u32>) -> Result<(), String> {
    const SCRIPT: &str = r#"
import ctypes, errno, os, sys
pid, path, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
if libc.setns(fd, 0x00020000) != 0:  # CLONE_NEWNS: also moves / and the cwd into the container
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
if uid >= 0:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
try:
    with open(path, "w") as f:
        f.write("probe")
    os.unlink(path)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &pid.to_string(), path])
        .arg(uid.map_or(-1, i64::from).to_string())
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    match text(&out.stdout).trim() {
        "ok" => Ok(()),
        errno => Err(errno.to_owned()),
    }
}
