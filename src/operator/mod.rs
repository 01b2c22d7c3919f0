//! The Kubernetes operator: a kube-runtime `Controller` over `ComplianceReport`s that runs each
//! report on its schedule. Only this module talks to the Kubernetes API.

mod allowed;
mod clock;
mod context;
pub mod crd;
mod decide;
mod http;
mod metrics;
mod reconcile;
mod secret;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::{Semaphore, watch};

pub use clock::{Clock, FileClock, SystemClock};
pub use decide::{Decision, decide};

use allowed::AllowedPortals;
use context::{Context, ErrorBackoff};
use metrics::Metrics;
use reconcile::{error_policy, reconcile};

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
    /// Portals resources may name (host names or base URLs); any portal when empty.
    pub allowed_portals: Vec<String>,
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

/// Waits for the Lease; returns the manager's channel and task, or `None` on shutdown first.
async fn become_leader(
    client: &Client,
    options: &OperatorOptions,
) -> Result<
    Option<(
        watch::Receiver<bool>,
        tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    )>,
    OperatorError,
> {
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

/// Whether a report reads the Secret `name` (API key, privacy key or signing key).
fn uses_secret(report: &ComplianceReport, name: &str) -> bool {
    let spec = &report.spec;
    spec.portal.token_secret_ref.name == name
        || spec
            .report
            .privacy
            .key_secret_ref
            .as_ref()
            .is_some_and(|r| r.name == name)
        || spec
            .report
            .signing_key_secret_ref
            .as_ref()
            .is_some_and(|r| r.name == name)
}

/// Runs the operator until SIGTERM/Ctrl-C (or until it loses the Lease).
pub async fn run(options: OperatorOptions) -> Result<(), OperatorError> {
    let client = client(options.kubeconfig.as_ref()).await?;
    let (reports, secrets): (Api<ComplianceReport>, Api<Secret>) = match &options.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    reports
        .list(&ListParams::default().limit(1))
        .await
        .map_err(OperatorError::CrdMissing)?;

    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let bound = http::serve(options.listen, metrics.clone(), ready.clone())
        .await
        .map_err(|source| OperatorError::Listen {
            addr: options.listen,
            source,
        })?;
    tracing::info!(%bound, "serving /livez, /readyz and /metrics");

    let lease = if options.leader_election {
        match become_leader(&client, &options).await? {
            Some(lease) => Some(lease),
            None => return Ok(()),
        }
    } else {
        None
    };
    let lost_leadership = Arc::new(AtomicBool::new(false));
    let mut leader_rx = lease.as_ref().map(|(rx, _)| rx.clone());
    let lost = lost_leadership.clone();
    let stop = async move {
        let leadership_lost = async {
            match leader_rx.as_mut() {
                Some(rx) => loop {
                    if rx.changed().await.is_err() || !*rx.borrow() {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                },
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutting down; letting running reports finish"),
            () = leadership_lost => tracing::warn!("lost the leader Lease; stopping"),
        }
    };

    let clock: Arc<dyn Clock> = match &options.clock_file {
        Some(path) => Arc::new(FileClock::new(path.clone())),
        None => Arc::new(SystemClock),
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "docspace-compliance-operator".into(),
            instance: Some(options.identity.clone()),
        },
    );
    let context = Arc::new(Context {
        client: client.clone(),
        recorder,
        clock,
        metrics,
        runs: Semaphore::new(options.max_concurrent_runs.max(1)),
        backoff: ErrorBackoff::new(options.error_backoff, options.error_backoff_max),
        allowed_portals: AllowedPortals::new(&options.allowed_portals),
    });

    // The watch of ComplianceReports feeds both the controller's cache and readiness: /readyz
    // turns ready at the watch's first InitDone (waiting on the store from another task would
    // take the wake-up away from the controller's own wait).
    let (store, writer) = reflector::store::<ComplianceReport>();
    let synced = ready.clone();
    let report_events = reflector(
        writer,
        watcher(reports, watcher::Config::default().any_semantic()),
    )
    .inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) && !synced.swap(true, Ordering::Relaxed) {
            tracing::info!("the watch has synced; ready");
        }
    })
    .applied_objects()
    .default_backoff();
    let secret_store = store.clone();
    let mut controller = Controller::for_stream(report_events, store)
        .with_config(ControllerConfig::default())
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                let namespace = secret.namespace();
                let name = secret.name_any();
                secret_store
                    .state()
                    .into_iter()
                    .filter(|r| r.namespace() == namespace && uses_secret(r, &name))
                    .map(|r| ObjectRef::from_obj(&*r))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stop);
    if let Some(path) = &options.clock_file {
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

    if let Some((rx, task)) = lease {
        drop(rx);
        if let Ok(Ok(manager)) = task.await
            && let Err(e) = manager.release().await
        {
            tracing::warn!(error = %e, "could not release the Lease");
        }
    }
    if lost_leadership.load(Ordering::Relaxed) {
        return Err(OperatorError::LeadershipLost);
    }
    Ok(())
}
