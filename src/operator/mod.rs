//! The Kubernetes operator: a kube-runtime `Controller` over `ComplianceReport`s that runs each
//! report on its schedule. Only this module talks to the Kubernetes API.

mod allowed;
mod clock;
mod conditions;
mod context;
pub mod crd;
mod decide;
mod gaps;
mod http;
mod metrics;
mod reconcile;
mod retry;
mod run_request;
mod secret;
mod status;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::api::ListParams;
use kube::runtime::controller::Controller;
use kube::runtime::events::Reporter;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::{Semaphore, watch as channel};

pub use clock::{Clock, FileClock, SystemClock};
pub use conditions::{
    Blocked, LastRun, Observation, PendingRetry, ReadyReason, ReconcilingReason, desired_conditions,
};
pub use decide::{Decision, SkipReason, Skipped, decide};
pub use run_request::RUN_REQUESTED_AT;
pub use watch::SecretScope;

use allowed::AllowedPortals;
use context::Context;
use metrics::Metrics;
use reconcile::{error_policy, reconcile};
use retry::{Backoff, FailedInputs, ReconcileFailures};

use crate::spec::ComplianceReport;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// A kubeconfig file; in-cluster or `KUBECONFIG` when absent.
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace only; all when absent.
    pub namespace: Option<String>,
    /// Address of `/livez`, `/readyz` and `/metrics`.
    pub listen: SocketAddr,
    /// Report runs at once, at most.
    pub max_concurrent_runs: usize,
    /// Hold a Lease before reconciling, so replicas never run the same report.
    pub leader_election: bool,
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub lease_namespace: String,
    /// Seconds a Lease holds without renewal.
    pub lease_duration_seconds: u64,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// A file holding the current instant, for tests; the system clock when absent.
    pub clock_file: Option<PathBuf>,
    /// First delay after a failed reconcile; it doubles up to `error_backoff_max`.
    pub error_backoff: Duration,
    /// Longest delay after failed reconciles.
    pub error_backoff_max: Duration,
    /// The longest a run may fetch and render before it fails (and uploads nothing).
    pub run_timeout: Duration,
    /// Portals resources may name (host names or base URLs).
    pub allowed_portals: Vec<String>,
    /// Lets resources name any portal when `allowed_portals` is empty; without it, an empty
    /// list is refused at start-up (a report author could otherwise send a Secret's `token`
    /// to a host of their choosing).
    pub allow_any_portal: bool,
    /// Which Secrets the operator watches and reads.
    pub secret_scope: SecretScope,
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// No usable Kubernetes configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// The CRD is missing or not readable.
    #[error(
        "cannot list ComplianceReports ({0}); install the CRD first: docspace-compliance-operator crd | kubectl apply -f -"
    )]
    CrdMissing(kube::Error),
    /// The probe server could not bind.
    #[error("cannot serve probes and metrics on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Leader election failed.
    #[error("leader election failed: {0}")]
    Lease(String),
    /// Neither allowed portals nor an explicit "any portal".
    #[error(
        "no allowed portals: pass --allowed-portals (host names or base URLs of the DocSpace portals reports may call), or --allow-any-portal to let report authors name any host"
    )]
    NoAllowedPortals,
    /// `--secret-namespaces` does not cover the watched namespace.
    #[error("--secret-namespaces must include the watched namespace {0} (or be left empty)")]
    SecretScope(String),
    /// Another replica took the Lease.
    #[error("lost the leader Lease; exiting so that only the new leader runs reports")]
    LeadershipLost,
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, OperatorError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| OperatorError::Config(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .map_err(|e| OperatorError::Config(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| OperatorError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| OperatorError::Config(e.to_string()))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
}

/// A held Lease: whether this replica still leads, and the task that renews the Lease.
type Lease = (
    channel::Receiver<bool>,
    tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
);

/// Waits for the Lease; returns the manager's channel and task, or `None` on shutdown first.
async fn become_leader(
    client: &Client,
    options: &OperatorOptions,
) -> Result<Option<Lease>, OperatorError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &options.lease_name)
        .with_namespace(&options.lease_namespace)
        .with_identity(&options.identity)
        .with_duration(options.lease_duration_seconds)
        .with_grace((options.lease_duration_seconds / 3).max(1))
        .build()
        .await
        .map_err(|e| OperatorError::Lease(e.to_string()))?;
    let (mut leader, task) = manager.watch().await;
    tracing::info!(identity = %options.identity, lease = %options.lease_name, "waiting to become the leader");
    loop {
        if *leader.borrow_and_update() {
            tracing::info!(identity = %options.identity, "became the leader");
            return Ok(Some((leader, task)));
        }
        tokio::select! {
            changed = leader.changed() => {
                if changed.is_err() {
                    return Err(OperatorError::Lease("the lease manager stopped".to_owned()));
                }
            }
            () = shutdown_signal() => return Ok(None),
        }
    }
}

/// Resolves when the Lease is lost (setting `lost`), never without a Lease.
async fn leadership_lost(mut leader: Option<channel::Receiver<bool>>, lost: Arc<AtomicBool>) {
    match leader.as_mut() {
        Some(rx) => loop {
            if rx.changed().await.is_err() || !*rx.borrow() {
                lost.store(true, Ordering::Relaxed);
                return;
            }
        },
        None => std::future::pending::<()>().await,
    }
}

/// Removes the metrics of deleted reports, for the life of the process.
fn forget_deleted_reports(
    mut removals: tokio::sync::mpsc::UnboundedReceiver<()>,
    reports: kube::runtime::reflector::Store<ComplianceReport>,
    metrics: Arc<Metrics>,
) {
    tokio::spawn(async move {
        while removals.recv().await.is_some() {
            metrics.forget_reports(|labels| {
                let key = kube::runtime::reflector::ObjectRef::new(&labels.name)
                    .within(&labels.namespace);
                reports.get(&key).is_some()
            });
        }
    });
}

/// Runs the operator until SIGTERM/Ctrl-C (or until it loses the Lease).
///
/// The watches start at once, so every replica turns ready when they have synced; only the
/// replica holding the Lease reconciles.
pub async fn operate(options: OperatorOptions) -> Result<(), OperatorError> {
    check_options(&options)?;
    let client = client(options.kubeconfig.as_ref()).await?;
    require_crd(&client, options.namespace.as_deref()).await?;

    let metrics = Arc::new(Metrics::default());
    let leading = Arc::new(AtomicBool::new(false));
    let watches = watch::start(
        &client,
        options.namespace.as_deref(),
        options.secret_scope.clone(),
        leading.clone(),
    );
    serve_probes(options.listen, &metrics, &watches.synced).await?;

    let lease = if options.leader_election {
        match become_leader(&client, &options).await? {
            Some(lease) => Some(lease),
            None => return Ok(()),
        }
    } else {
        None
    };
    metrics.leader.set(1);
    tokio::select! {
        () = watches.synced.wait() => {},
        () = shutdown_signal() => return Ok(()),
    }
    leading.store(true, Ordering::Relaxed);

    let lost_leadership = Arc::new(AtomicBool::new(false));
    let stop = stop_signal(
        lease.as_ref().map(|(rx, _)| rx.clone()),
        lost_leadership.clone(),
    );
    let context = Arc::new(context(
        &client,
        &options,
        &metrics,
        watches.secrets.clone(),
    ));
    control(watches, context, stop, options.clock_file.as_ref()).await;
    metrics.leader.set(0);

    if let Some(lease) = lease {
        release(lease).await;
    }
    if lost_leadership.load(Ordering::Relaxed) {
        return Err(OperatorError::LeadershipLost);
    }
    Ok(())
}

/// Refuses to start without an allow-list of portals (unless any portal is allowed), or with
/// a Secret scope that leaves out the watched namespace.
fn check_options(options: &OperatorOptions) -> Result<(), OperatorError> {
    if options.allowed_portals.iter().all(|p| p.trim().is_empty()) && !options.allow_any_portal {
        return Err(OperatorError::NoAllowedPortals);
    }
    if let Some(ns) = &options.namespace
        && !options.secret_scope.namespaces.is_empty()
        && !options.secret_scope.namespaces.contains(ns)
    {
        return Err(OperatorError::SecretScope(ns.clone()));
    }
    Ok(())
}

/// Fails unless ComplianceReports can be listed (the CRD is installed and readable).
async fn require_crd(client: &Client, namespace: Option<&str>) -> Result<(), OperatorError> {
    let reports: Api<ComplianceReport> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    reports
        .list(&ListParams::default().limit(1))
        .await
        .map_err(OperatorError::CrdMissing)?;
    Ok(())
}

/// Serves `/livez`, `/readyz` (ready once the watches have synced) and `/metrics`.
async fn serve_probes(
    listen: SocketAddr,
    metrics: &Arc<Metrics>,
    synced: &watch::Synced,
) -> Result<(), OperatorError> {
    let bound = http::serve(listen, metrics.clone(), synced.clone())
        .await
        .map_err(|source| OperatorError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(%bound, "serving /livez, /readyz and /metrics");
    Ok(())
}

/// Resolves on SIGTERM/Ctrl-C, or when the Lease is lost (setting `lost`).
async fn stop_signal(leader: Option<channel::Receiver<bool>>, lost: Arc<AtomicBool>) {
    let lost = leadership_lost(leader, lost);
    tokio::select! {
        () = shutdown_signal() => tracing::info!("shutting down; letting running reports finish"),
        () = lost => tracing::warn!("lost the leader Lease; stopping"),
    }
}

/// What every reconcile shares.
fn context(
    client: &Client,
    options: &OperatorOptions,
    metrics: &Arc<Metrics>,
    secrets: watch::SecretIndex,
) -> Context {
    let clock: Arc<dyn Clock> = match &options.clock_file {
        Some(path) => Arc::new(FileClock::new(path.clone())),
        None => Arc::new(SystemClock),
    };
    let reporter = Reporter {
        controller: "docspace-compliance-operator".into(),
        instance: Some(options.identity.clone()),
    };
    let backoff = Backoff::new(options.error_backoff, options.error_backoff_max);
    Context {
        client: client.clone(),
        reporter,
        clock,
        metrics: metrics.clone(),
        runs: Semaphore::new(options.max_concurrent_runs.max(1)),
        run_timeout: options.run_timeout,
        backoff,
        reconcile_failures: ReconcileFailures::new(backoff),
        failed_inputs: FailedInputs::default(),
        allowed_portals: AllowedPortals::new(&options.allowed_portals),
        limiters: Arc::default(),
        secrets,
    }
}

/// Reconciles the reports the watches pass on (their changes, their Secrets' changes, every
/// cached report once at the start and, in tests, at each change of the clock file) until
/// `stop` resolves; reconciles under way finish first.
async fn control(
    watches: watch::Watches,
    context: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
    clock_file: Option<&PathBuf>,
) {
    forget_deleted_reports(
        watches.report_removals,
        watches.reports.clone(),
        context.metrics.clone(),
    );
    let report_changes = futures::stream::unfold(watches.report_changes, |mut rx| async move {
        rx.recv().await.map(|report| (Ok(report), rx))
    });
    let secret_changes = futures::stream::unfold(watches.secret_changes, |mut rx| async move {
        rx.recv().await.map(|report| (report, rx))
    });
    let mut controller = Controller::for_stream(report_changes, watches.reports)
        .reconcile_on(secret_changes)
        // Everything already cached when this replica took the lead.
        .reconcile_all_on(futures::stream::once(async {}))
        .graceful_shutdown_on(stop);
    if let Some(path) = clock_file {
        controller = controller.reconcile_all_on(FileClock::new(path.clone()).changes());
    }
    controller
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile error");
            }
        })
        .await;
}

/// Lets go of the Lease, so that a standby takes over without waiting for it to expire.
async fn release((leader, task): Lease) {
    drop(leader);
    if let Ok(Ok(manager)) = task.await
        && let Err(e) = manager.release().await
    {
        tracing::warn!(error = %e, "could not release the Lease");
    }
}
