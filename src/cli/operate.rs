//! `run`: the operator.

use std::time::Duration;

use docspace_compliance_operator::operator::{OperatorOptions, SecretScope, operate};

use super::RunArgs;

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "operator".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Runs the operator until it is told to stop.
pub async fn main(args: RunArgs) -> Result<(), String> {
    let options = OperatorOptions {
        kubeconfig: args.kubeconfig,
        namespace: args.namespace,
        listen: args.listen,
        max_concurrent_runs: args.max_concurrent_runs,
        leader_election: !args.no_leader_election,
        lease_name: args.lease_name,
        lease_namespace: args.lease_namespace,
        lease_duration_seconds: args.lease_duration_seconds,
        identity: args.identity.unwrap_or_else(default_identity),
        clock_file: args.clock_file,
        error_backoff: Duration::from_secs(args.error_backoff_seconds),
        error_backoff_max: Duration::from_secs(args.error_backoff_max_seconds),
        run_timeout: Duration::from_secs(args.run_timeout_seconds.max(1)),
        allowed_portals: args.allowed_portals,
        allow_any_portal: args.allow_any_portal,
        secret_scope: SecretScope {
            namespaces: args
                .secret_namespaces
                .into_iter()
                .filter(|ns| !ns.trim().is_empty())
                .collect(),
            label_selector: args.secret_label_selector.filter(|s| !s.trim().is_empty()),
        },
    };
    operate(options).await.map_err(|e| e.to_string())
}
