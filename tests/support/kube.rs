//! A real Kubernetes API server (scripts/apiserver.sh), kubectl, and the operator binary as a
//! child process, for the operator's integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const OPERATOR: &str = env!("CARGO_BIN_EXE_docspace-compliance-operator");

/// A running API server; stopped on drop.
pub struct ApiServer {
    pub state: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

impl ApiServer {
    /// Builds (cached) and starts an API server with etcd; installs the CRD and the operator's
    /// RBAC bound to the `docspace-operator` user of the operator kubeconfig.
    pub fn start() -> Self {
        let server = Self::start_empty();
        server.kubectl_ok(&[
            "apply",
            "-f",
            &format!("{ROOT}/crds/compliancereports.compliance.docspace.dev.yaml"),
        ]);
        server.wait_established(&["compliancereports.compliance.docspace.dev"]);
        server.install_operator_identity();
        server
    }

    /// Builds (cached) and starts an API server with etcd and nothing installed: no CRD, no
    /// RBAC for the operator (for tests that install those themselves, e.g. from the chart).
    pub fn start_empty() -> Self {
        let state = tempfile::tempdir().unwrap();
        let status = Command::new(format!("{ROOT}/scripts/apiserver.sh"))
            .arg("start")
            .arg(state.path())
            .status()
            .expect("scripts/apiserver.sh runs");
        assert!(
            status.success(),
            "the API server did not start (see the log above); if it is not built, {}",
            super::tools::HOW_TO_BUILD_APISERVER
        );
        let env = std::fs::read_to_string(state.path().join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim_start_matches("export ").to_owned(),
                    v.trim_matches(['"', '\'']).to_owned(),
                )
            })
            .collect();
        Self { state, env }
    }

    /// Writes a kubeconfig at `path` that talks to this server with a bearer `token` (e.g.
    /// from `kubectl create token`).
    pub fn write_token_kubeconfig(&self, path: &Path, token: &str) {
        let config = |args: &[&str]| {
            let out = Command::new(&self.env["KUBECTL"])
                .args(args)
                .env("KUBECONFIG", path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "kubectl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ca = format!("--certificate-authority={}", self.env["APISERVER_CA"]);
        let server = format!("--server={}", self.env["APISERVER_URL"]);
        config(&[
            "config",
            "set-cluster",
            "test",
            &server,
            &ca,
            "--embed-certs=true",
        ]);
        config(&[
            "config",
            "set-credentials",
            "token",
            &format!("--token={}", token.trim()),
        ]);
        config(&[
            "config",
            "set-context",
            "token",
            "--cluster=test",
            "--user=token",
        ]);
        config(&["config", "use-context", "token"]);
    }

    /// Creates the operator's ServiceAccount in `docspace-system`, binds the ClusterRole of
    /// deploy/rbac.yaml and the Lease Role of deploy/lease-rbac.yaml to it, and writes a
    /// kubeconfig with a token of that ServiceAccount.
    fn install_operator_identity(&self) {
        let sa = "docspace-system:docspace-compliance-operator";
        self.kubectl_ok(&["apply", "-f", &format!("{ROOT}/deploy/rbac.yaml")]);
        self.kubectl_ok(&["create", "namespace", "docspace-system"]);
        self.kubectl_ok(&[
            "create",
            "serviceaccount",
            "-n",
            "docspace-system",
            "docspace-compliance-operator",
        ]);
        self.kubectl_ok(&[
            "apply",
            "-n",
            "docspace-system",
            "-f",
            &format!("{ROOT}/deploy/lease-rbac.yaml"),
        ]);
        self.kubectl_ok(&[
            "create",
            "clusterrolebinding",
            "docspace-compliance-operator",
            "--clusterrole=docspace-compliance-operator",
            &format!("--serviceaccount={sa}"),
        ]);
        self.kubectl_ok(&[
            "create",
            "rolebinding",
            "-n",
            "docspace-system",
            "docspace-compliance-operator-lease",
            "--role=docspace-compliance-operator-lease",
            &format!("--serviceaccount={sa}"),
        ]);
        let token = self.kubectl_ok(&[
            "create",
            "token",
            "-n",
            "docspace-system",
            "docspace-compliance-operator",
            "--duration=2h",
        ]);
        self.write_token_kubeconfig(Path::new(&self.service_account_kubeconfig()), &token);
    }

    /// The kubeconfig of the operator's ServiceAccount (RBAC-limited to deploy/).
    pub fn service_account_kubeconfig(&self) -> String {
        self.state
            .path()
            .join("service-account.kubeconfig")
            .display()
            .to_string()
    }

    /// The admin kubeconfig.
    pub fn admin_kubeconfig(&self) -> &str {
        &self.env["KUBECONFIG"]
    }

    /// Runs kubectl as admin.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(&self.env["KUBECTL"]);
        command
            .args(args)
            .env("KUBECONFIG", self.admin_kubeconfig())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl as admin and asserts success; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, None);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies YAML as admin; returns the output.
    pub fn apply(&self, yaml: &str) -> Output {
        self.kubectl(&["apply", "-f", "-"], Some(yaml))
    }

    /// Applies YAML as admin and asserts success.
    pub fn apply_ok(&self, yaml: &str) {
        let out = self.apply(yaml);
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits (up to 60 s) until the CustomResourceDefinitions named `crds` are Established.
    pub fn wait_established(&self, crds: &[&str]) {
        let crds: Vec<String> = crds.iter().map(|name| format!("crd/{name}")).collect();
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        args.extend(crds.iter().map(String::as_str));
        self.kubectl_ok(&args);
    }

    /// The object as JSON.
    pub fn get_json(&self, namespace: &str, what: &str) -> serde_json::Value {
        serde_json::from_str(&self.kubectl_ok(&["get", "-n", namespace, what, "-o", "json"]))
            .unwrap()
    }

    /// The object's `metadata.managedFields`: who wrote which fields, and how.
    pub fn managed_fields(&self, namespace: &str, what: &str) -> Vec<serde_json::Value> {
        let object: serde_json::Value = serde_json::from_str(&self.kubectl_ok(&[
            "get",
            "-n",
            namespace,
            what,
            "-o",
            "json",
            "--show-managed-fields",
        ]))
        .unwrap();
        object["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Runs `program` (e.g. helm) in the repository root as admin of this server
    /// (`KUBECONFIG`); returns its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        super::tools::run_with_env(program, args, &[("KUBECONFIG", self.admin_kubeconfig())])
    }

    /// Runs `program` (e.g. helm) in the repository root as admin of this server and asserts
    /// success; returns stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        super::tools::run_ok_with_env(program, args, &[("KUBECONFIG", self.admin_kubeconfig())])
    }

    /// Polls `what` until `check` holds or `timeout` passes; returns the last value.
    pub fn wait_for(
        &self,
        namespace: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.get_json(namespace, what);
            if check(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {namespace}/{what}: {}",
                value["status"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Event reasons recorded for an object.
    pub fn event_reasons(&self, namespace: &str, name: &str) -> Vec<String> {
        self.event_field(namespace, name, "reason")
    }

    /// Event notes recorded for an object.
    pub fn event_notes(&self, namespace: &str, name: &str) -> Vec<String> {
        self.event_field(namespace, name, "note")
    }

    fn event_field(&self, namespace: &str, name: &str, field: &str) -> Vec<String> {
        let events = self.get_json(namespace, "events.events.k8s.io");
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["regarding"]["name"] == name)
            .map(|e| e[field].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/apiserver.sh"))
            .arg("stop")
            .arg(self.state.path())
            .status();
    }
}

/// The operator binary running against an API server; killed on drop.
pub struct Operator {
    pub child: Child,
    pub log: PathBuf,
    pub metrics_port: u16,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Operator {
    /// Starts `docspace-compliance-operator run` with the operator kubeconfig and a clock file,
    /// short backoff (1 s doubling to 2 s) and any portal allowed.
    pub fn start(server: &ApiServer, clock: &Path, identity: &str, log_dir: &Path) -> Self {
        Self::start_with(
            server,
            clock,
            identity,
            log_dir,
            &[
                "--error-backoff-seconds",
                "1",
                "--error-backoff-max-seconds",
                "2",
                "--allow-any-portal",
            ],
        )
    }

    /// Starts `docspace-compliance-operator run` with the operator kubeconfig, a clock file, a
    /// 3 s Lease, and `options` (backoff and portal flags are left to them).
    pub fn start_with(
        server: &ApiServer,
        clock: &Path,
        identity: &str,
        log_dir: &Path,
        options: &[&str],
    ) -> Self {
        let metrics_port = free_port();
        let mut command = Command::new(OPERATOR);
        command
            .args([
                "run",
                "--kubeconfig",
                &server.service_account_kubeconfig(),
                "--listen",
            ])
            .arg(format!("127.0.0.1:{metrics_port}"))
            .args([
                "--lease-namespace",
                "docspace-system",
                "--lease-duration-seconds",
                "3",
                "--identity",
                identity,
                "--clock-file",
            ])
            .arg(clock)
            .args(options)
            .env("RUST_LOG", "info,docspace_compliance_operator=debug");
        Self::spawn_logged(command, metrics_port, identity, log_dir)
    }

    /// Spawns `command`, which serves probes on `metrics_port`, its output going to
    /// `log_dir/operator-{name}.log`.
    fn spawn_logged(mut command: Command, metrics_port: u16, name: &str, log_dir: &Path) -> Self {
        let log = log_dir.join(format!("operator-{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            child,
            log,
            metrics_port,
        }
    }

    /// The value of an unlabelled metric (or one series given with its labels, e.g.
    /// `runs_total{result="success"}`), without the `docspace_compliance_` prefix; 0 when
    /// absent.
    pub fn metric(&self, series: &str) -> f64 {
        let (_, text) = self.http_get("/metrics").unwrap_or_default();
        let name = format!("docspace_compliance_{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Starts `docspace-compliance-operator` with `args` (the first one the subcommand, e.g.
    /// the args of a Deployment's container) and `env`, adding `--kubeconfig` and
    /// `--clock-file`, and serving probes on a free loopback port (any `--listen` in `args` is
    /// replaced).
    pub fn spawn(
        kubeconfig: &Path,
        args: &[String],
        env: &[(String, String)],
        clock: &Path,
        name: &str,
        log_dir: &Path,
    ) -> Self {
        let metrics_port = free_port();
        let mut command = Command::new(OPERATOR);
        let mut args = args.iter().peekable();
        while let Some(arg) = args.next() {
            if arg == "--listen" {
                args.next();
            } else if !arg.starts_with("--listen=") {
                command.arg(arg);
            }
        }
        command
            .arg(format!("--listen=127.0.0.1:{metrics_port}"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--clock-file")
            .arg(clock)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Self::spawn_logged(command, metrics_port, name, log_dir)
    }

    /// The operator's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs a path of the probe/metrics server; `None` while it does not answer.
    pub fn http_get(&self, path: &str) -> Option<(u16, String)> {
        super::http::http_get(&format!("127.0.0.1:{}", self.metrics_port), path)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes the fake clock.
pub fn set_clock(path: &Path, instant: chrono::DateTime<chrono::Utc>) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, instant.to_rfc3339()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}
