//! The chart's Deployment as real Pods on a real node (scripts/node.sh: the API server of
//! scripts/apiserver.sh with kube-controller-manager, kube-scheduler and a kubelet built from
//! the same pinned Kubernetes modules, the machine's containerd and runc, a bridge network of
//! its own). The image is the FROM-scratch image of scripts/image.sh, loaded into the node's
//! containerd (no registry). The Pods reach the API server through the `kubernetes` Service
//! address and the simulator through the host's address on the bridge. Needs root.

#[path = "support/node.rs"]
#[allow(dead_code)]
mod node_support;
mod support;

use std::time::{Duration, Instant};

use chrono::{Months, TimeDelta, TimeZone, Utc};
use docspace_compliance_operator::schedule::{Schedule, parse_time_zone};
use docspace_sim::DEFAULT_API_KEY;
use node_support::{Docker, Node, metric, mount_options, proc_status, try_write};
use support::conditions::eventually;
use support::fixtures::{report, secret};
use support::http::http_get;
use support::sim::sim;
use support::tools::{ROOT, tool};

const IMAGE: &str = "localhost/docspace-compliance-operator:node-test";
const RELEASE: &str = "dco";
const NAMESPACE: &str = "docspace-system";
const DEPLOYMENT: &str = "dco-docspace-compliance-operator";
const WAIT: Duration = Duration::from_secs(180);

/// `helm` against the node's API server.
fn helm(node: &Node, args: &[&str]) -> String {
    let out = std::process::Command::new(tool("helm"))
        .args(args)
        .env("KUBECONFIG", node.server.admin_kubeconfig())
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}:\n{}{}\nkubelet log tail:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&node.log("kubelet"), 40)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The operator's Pods: (name, IP, ready, container id).
fn pods(node: &Node) -> Vec<(String, String, bool, String)> {
    let list: serde_json::Value = serde_json::from_str(&node.server.kubectl_ok(&[
        "get",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        "app.kubernetes.io/instance=dco",
        "-o",
        "json",
    ]))
    .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            let status = &p["status"]["containerStatuses"][0];
            (
                p["metadata"]["name"].as_str().unwrap().to_owned(),
                p["status"]["podIP"].as_str().unwrap_or_default().to_owned(),
                status["ready"] == true,
                status["containerID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn lease_holder(node: &Node) -> String {
    node.server
        .get_json(NAMESPACE, &format!("lease/{DEPLOYMENT}"))["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn pod_metric(ip: &str, series: &str) -> Option<f64> {
    let (code, body) = http_get(&format!("{ip}:8080"), "/metrics")?;
    (code == 200).then(|| metric(&body, series))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_runs_as_pods_on_a_real_node() {
    let t0 = Instant::now();
    let node = Node::start();
    println!("node Ready after {:?}", t0.elapsed());

    // The operator image, FROM scratch, into the node's containerd: no registry.
    let t = Instant::now();
    {
        let docker = Docker::start();
        docker.build_operator_image(IMAGE);
        node.load_image(&docker.host, IMAGE);
    }
    let images = node.ctr(&["images", "ls", "-q"]);
    assert!(images.lines().any(|l| l == IMAGE), "{images}");
    println!("image built and loaded after {:?}", t.elapsed());

    // The simulator, on the host's loopback, reached by the Pods at the bridge address. It
    // holds events in the period of the latest monthly instant (a run-now request reports it).
    let schedule = Schedule::parse("0 3 1 * *", parse_time_zone("UTC").unwrap()).unwrap();
    let latest = schedule.latest_before(Utc::now()).unwrap();
    let month_to = latest - TimeDelta::hours(3);
    let month_from = month_to.checked_sub_months(Months::new(1)).unwrap();
    assert_eq!(
        month_to,
        Utc.from_utc_datetime(&month_to.date_naive().and_hms_opt(0, 0, 0).unwrap())
    );
    let sim = sim(
        200,
        &month_from.to_rfc3339(),
        &month_to.to_rfc3339(),
        |_| {},
    )
    .await;
    let port = sim
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    node.expose(port.parse().unwrap());
    let portal = format!("http://{}:{port}", node.gateway());

    // The chart, two replicas, the local image only.
    let t = Instant::now();
    let allowed = format!("allowedPortals={{{}}}", node.gateway());
    let install = [
        "install",
        RELEASE,
        "charts/docspace-compliance-operator",
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--wait",
        "--timeout",
        "180s",
        "--set",
        "image.repository=localhost/docspace-compliance-operator",
        "--set",
        "image.tag=node-test",
        "--set",
        "image.pullPolicy=Never",
        "--set",
        "replicaCount=2",
        "--set",
        &allowed,
        "--set",
        "leaderElection.leaseDurationSeconds=5",
    ];
    helm(&node, &install);
    println!("helm install --wait done after {:?}", t.elapsed());
    let deployment = node
        .server
        .get_json(NAMESPACE, &format!("deployment/{DEPLOYMENT}"));
    assert_eq!(
        deployment["status"]["readyReplicas"], 2,
        "{}",
        deployment["status"]
    );
    assert_eq!(
        deployment["status"]["availableReplicas"], 2,
        "{}",
        deployment["status"]
    );
    let available = deployment["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap();
    assert_eq!(available["status"], "True");
    let running = pods(&node);
    assert_eq!(running.len(), 2, "{running:?}");
    assert!(running.iter().all(|p| p.2), "{running:?}");

    // Each Pod's process, seen from the host: UID/GID 65532, no capabilities, no new
    // privileges, seccomp filtering; its root file system read-only, /tmp (the emptyDir)
    // writable; the runtime spec containerd was given says the same.
    for (name, ip, _, container) in &running {
        let pid = node.container_pid(container);
        assert_eq!(proc_status(pid, "Uid"), ["65532"; 4], "{name}");
        assert_eq!(proc_status(pid, "Gid"), ["65532"; 4], "{name}");
        assert_eq!(proc_status(pid, "CapEff"), ["0000000000000000"], "{name}");
        assert_eq!(proc_status(pid, "NoNewPrivs"), ["1"], "{name}");
        assert_eq!(proc_status(pid, "Seccomp"), ["2"], "{name}");
        let root = mount_options(pid, "/");
        assert!(root.contains(&"ro".to_owned()), "{name}: / is {root:?}");
        let tmp = mount_options(pid, "/tmp");
        assert!(tmp.contains(&"rw".to_owned()), "{name}: /tmp is {tmp:?}");
        // Writes from inside the container's mount namespace: the root file system refuses
        // even root (a read-only mount, not permissions); /tmp takes the Pod's user's file.
        assert_eq!(
            try_write(pid, "/probe", None),
            Err("EROFS".into()),
            "{name}"
        );
        assert_eq!(
            try_write(pid, "/etc/probe", None),
            Err("EROFS".into()),
            "{name}"
        );
        assert!(try_write(pid, "/probe", Some(65532)).is_err(), "{name}");
        assert_eq!(try_write(pid, "/tmp/probe", Some(65532)), Ok(()), "{name}");
        let spec = node.container_spec(container);
        assert_eq!(spec["root"]["readonly"], true, "{name}");
        assert_eq!(spec["process"]["user"]["uid"], 65532, "{name}");
        // The probes' endpoints, from the host as the kubelet calls them.
        assert_eq!(
            http_get(&format!("{ip}:8080"), "/livez").map(|r| r.0),
            Some(200)
        );
        assert_eq!(
            http_get(&format!("{ip}:8080"), "/readyz").map(|r| r.0),
            Some(200)
        );
    }

    // Exactly one replica leads, and the Lease names it.
    eventually("one replica leads", WAIT, || {
        running
            .iter()
            .map(|p| pod_metric(&p.1, "leader").unwrap_or(0.0))
            .sum::<f64>()
            == 1.0
    });
    let leader = lease_holder(&node);
    let (leader_pod, standby_pod) = if running[0].0 == leader {
        (running[0].clone(), running[1].clone())
    } else {
        (running[1].clone(), running[0].clone())
    };
    assert_eq!(leader_pod.0, leader);
    assert_eq!(pod_metric(&leader_pod.1, "leader"), Some(1.0));
    assert_eq!(pod_metric(&standby_pod.1, "leader"), Some(0.0));

    // A report runs from inside the leader Pod, against the simulator, to Ready=True.
    node.server
        .kubectl_ok(&["create", "namespace", "compliance"]);
    node.server
        .apply_ok(&secret("compliance", "docspace", DEFAULT_API_KEY));
    let requested = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let manifest = report("compliance", "monthly", &portal, "docspace", "")
        .replacen(
            "tokenSecretRef: {name: docspace}}",
            "tokenSecretRef: {name: docspace}, allowInsecureHttp: true}",
            1,
        )
        .replacen(
            "metadata: {name: monthly, namespace: compliance}",
            &format!(
                "metadata: {{name: monthly, namespace: compliance, annotations: \
             {{compliance.docspace.dev/run-requested-at: \"{requested}\"}}}}"
            ),
            1,
        );
    assert!(manifest.contains("allowInsecureHttp: true"), "{manifest}");
    node.server.apply_ok(&manifest);
    let done = node
        .server
        .wait_for("compliance", "creport/monthly", WAIT, |v| {
            support::conditions::ready(v)
                .is_some_and(|(status, reason, _)| status == "True" && reason == "Succeeded")
        });
    println!("report status: {}", done["status"]);
    let uploads = sim.uploads();
    assert!(
        uploads
            .iter()
            .any(|f| f.title.starts_with("monthly-") && f.title.ends_with(".csv")),
        "{:?}",
        uploads.iter().map(|f| &f.title).collect::<Vec<_>>()
    );
    assert_eq!(
        pod_metric(&leader_pod.1, r#"runs_total{result="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        pod_metric(&standby_pod.1, r#"runs_total{result="success"}"#),
        Some(0.0)
    );

    // The leader Pod is deleted: the standby takes the Lease; the Deployment replaces the Pod.
    let deleted = Instant::now();
    node.server.kubectl_ok(&[
        "delete",
        "pod",
        "-n",
        NAMESPACE,
        &leader_pod.0,
        "--wait=false",
    ]);
    // The deleted leader releases the Lease on SIGTERM, so whichever live replica asks first
    // takes it: the standby, or the Pod that replaces the deleted one (seen to win here too).
    eventually("another replica takes the Lease", WAIT, || {
        let holder = lease_holder(&node);
        !holder.is_empty()
            && holder != leader_pod.0
            && pods(&node)
                .iter()
                .any(|p| p.0 == holder && pod_metric(&p.1, "leader") == Some(1.0))
    });
    let new_leader = lease_holder(&node);
    println!(
        "handover to {new_leader} ({}) after {:?}",
        if new_leader == standby_pod.0 {
            "the standby"
        } else {
            "the replacement Pod"
        },
        deleted.elapsed()
    );
    eventually("two ready replicas again, one leading", WAIT, || {
        let now = pods(&node);
        now.len() == 2
            && now.iter().all(|p| p.2)
            && !now.iter().any(|p| p.0 == leader_pod.0)
            && now
                .iter()
                .map(|p| pod_metric(&p.1, "leader").unwrap_or(0.0))
                .sum::<f64>()
                == 1.0
    });

    // A values change rolls the Deployment; `kubectl rollout status` sees it through.
    helm(
        &node,
        &[
            "upgrade",
            RELEASE,
            "charts/docspace-compliance-operator",
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            "operator.logLevel=debug",
        ],
    );
    let rollout = node.server.kubectl_ok(&[
        "rollout",
        "status",
        "-n",
        NAMESPACE,
        &format!("deployment/{DEPLOYMENT}"),
        "--timeout=180s",
    ]);
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    let after = pods(&node);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.iter().all(|p| p.2), "{after:?}");
    let deployment = node
        .server
        .get_json(NAMESPACE, &format!("deployment/{DEPLOYMENT}"));
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "RUST_LOG" && e["value"] == "debug"),
        "{env}"
    );
    eventually("a new Pod leads", WAIT, || {
        after.iter().any(|p| p.0 == lease_holder(&node))
    });
    // The report stays done: the new leader does not run the handled request again.
    let still = node.server.get_json("compliance", "creport/monthly");
    assert_eq!(
        still["status"]["lastHandledRunRequest"], requested,
        "{}",
        still["status"]
    );
    println!("whole test {:?}", t0.elapsed());
}
