//! The operator's two watches, started with the process whether or not it leads, so that a
//! standby is ready (synced) and takes over with warm caches:
//!
//! - ComplianceReports, cached whole; changes that matter (a new generation, an annotation)
//!   are passed on to the controller while this replica leads. Status writes, our own
//!   included, are not: they never start a reconcile.
//! - Secrets, metadata only (no data, annotations or managed fields are kept): enough to tell
//!   whether a named Secret exists and whether it changed. A change re-reconciles the reports
//!   that name the Secret; a run reads the one Secret it needs with a `get`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Predicate, PredicateConfig, WatchStreamExt, predicates, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::{mpsc, watch};

use crate::cycle::keys::{KeyError, KeyRole};
use crate::spec::{ComplianceReport, SecretKeyRef};

/// Predicate hashes are kept this long for objects that do not change; past it, the next
/// (status-only) update of such an object passes once, which a reconcile tolerates.
const PREDICATE_TTL: Duration = Duration::from_secs(31 * 24 * 3600);

/// Secrets per page of the initial list.
const SECRET_LIST_PAGE: u32 = 50;

/// Which Secrets the operator may read and watches.
#[derive(Debug, Clone, Default)]
pub struct SecretScope {
    /// Namespaces to watch Secrets in; all (or the operator's one namespace) when empty.
    pub namespaces: Vec<String>,
    /// Only Secrets with these labels, e.g. `compliance.docspace.dev/secret=true`.
    pub label_selector: Option<String>,
}

impl SecretScope {
    /// What a "not found" message adds when the scope may be why.
    fn note(&self) -> String {
        let mut note = String::new();
        if !self.namespaces.is_empty() {
            note.push_str(&format!(
                " (the operator reads Secrets only in the namespaces {})",
                self.namespaces.join(", ")
            ));
        }
        if let Some(selector) = &self.label_selector {
            note.push_str(&format!(
                " (the operator reads only Secrets labelled {selector})"
            ));
        }
        note
    }
}

/// Whether each watch has listed everything once.
#[derive(Debug, Clone)]
pub struct Synced(Vec<watch::Receiver<bool>>);

impl Synced {
    /// True once every watch has synced.
    pub fn is_synced(&self) -> bool {
        self.0.iter().all(|rx| *rx.borrow())
    }

    /// Waits until every watch has synced.
    pub async fn wait(&self) {
        for rx in &self.0 {
            let mut rx = rx.clone();
            // An error means the watch task ended: then nothing more will come.
            let _ = rx.wait_for(|synced| *synced).await;
        }
    }
}

/// The Secrets a report names, with the key each holds.
pub fn secret_refs(report: &ComplianceReport) -> Vec<(KeyRole, &SecretKeyRef)> {
    let spec = &report.spec;
    let mut refs = vec![(KeyRole::Api, &spec.portal.token_secret_ref)];
    if let Some(r) = &spec.report.privacy.key_secret_ref {
        refs.push((KeyRole::Privacy, r));
    }
    if let Some(r) = &spec.report.signing_key_secret_ref {
        refs.push((KeyRole::Signing, r));
    }
    refs
}

/// The metadata of the watched Secrets.
#[derive(Clone)]
pub struct SecretIndex {
    /// One store per watched namespace (`None`: all namespaces).
    stores: Vec<(Option<String>, Store<PartialObjectMeta<Secret>>)>,
    scope: SecretScope,
}

impl SecretIndex {
    /// The resource version of Secret `namespace/name`, if it exists and is watched.
    pub fn version(&self, namespace: &str, name: &str) -> Option<String> {
        let store = self
            .stores
            .iter()
            .find(|(ns, _)| ns.as_deref().is_none_or(|ns| ns == namespace))
            .map(|(_, store)| store)?;
        let secret = store.get(&ObjectRef::new(name).within(namespace))?;
        Some(secret.resource_version().unwrap_or_default())
    }

    /// The first Secret `report` names that does not exist, as an actionable message.
    pub fn missing(&self, report: &ComplianceReport) -> Option<String> {
        let namespace = report.namespace().unwrap_or_default();
        secret_refs(report).into_iter().find_map(|(role, r)| {
            self.version(&namespace, &r.name).is_none().then(|| {
                KeyError::NotFound {
                    field: role.field(),
                    place: format!("Secret {namespace}/{}", r.name),
                    remedy: format!(
                        "create it with {} under key {:?}{}",
                        role.what(),
                        r.key,
                        self.scope.note()
                    ),
                }
                .to_string()
            })
        })
    }

    /// What a run of `report` depends on besides its spec: the versions of its Secrets.
    pub fn fingerprint(&self, report: &ComplianceReport) -> String {
        let namespace = report.namespace().unwrap_or_default();
        let mut fingerprint = format!("generation={:?}", report.metadata.generation);
        for (_, r) in secret_refs(report) {
            let version = self.version(&namespace, &r.name);
            fingerprint.push_str(&format!(
                ";{}={}",
                r.name,
                version.as_deref().unwrap_or("-")
            ));
        }
        fingerprint
    }
}

/// The running watches.
pub struct Watches {
    /// Every ComplianceReport the operator sees.
    pub reports: Store<ComplianceReport>,
    /// Reports whose generation or annotations changed (sent only while leading).
    pub report_changes: mpsc::UnboundedReceiver<ComplianceReport>,
    /// Reports whose Secrets changed (sent only while leading).
    pub secret_changes: mpsc::UnboundedReceiver<ObjectRef<ComplianceReport>>,
    /// A report was deleted, or the watch listed everything again (and may have missed
    /// deletions): `reports` holds what is left.
    pub report_removals: mpsc::UnboundedReceiver<()>,
    /// The Secrets' metadata.
    pub secrets: SecretIndex,
    /// Whether the watches have synced.
    pub synced: Synced,
}

/// Drives `stream` in a task for the life of the process, logging its errors.
fn spawn_driven<T: Send + 'static>(
    what: &'static str,
    stream: impl Stream<Item = Result<T, watcher::Error>> + Send + 'static,
    mut forward: impl FnMut(T) + Send + 'static,
) {
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(object) => forward(object),
                Err(e) => tracing::warn!(error = %e, "the {what} watch failed; retrying"),
            }
        }
    });
}

/// Starts the watches. `leading` decides whether changes reach the controller.
pub fn start(
    client: &Client,
    namespace: Option<&str>,
    scope: SecretScope,
    leading: Arc<AtomicBool>,
) -> Watches {
    let reports = watch_reports(client, namespace, &leading);
    let namespaces: Vec<Option<String>> = match namespace {
        Some(ns) => vec![Some(ns.to_owned())],
        None if scope.namespaces.is_empty() => vec![None],
        None => scope.namespaces.iter().cloned().map(Some).collect(),
    };
    // Metadata still carries annotations, and kubectl's last-applied-configuration holds a
    // Secret's whole data: list in small pages (from etcd, where limits hold) so that a
    // cluster of large Secrets is never parsed 500 at a time.
    let mut config = watcher::Config::default().page_size(SECRET_LIST_PAGE);
    if let Some(selector) = &scope.label_selector {
        config = config.labels(selector);
    }
    let (secret_tx, secret_changes) = mpsc::unbounded_channel();
    let mut stores = Vec::new();
    let mut synced = vec![reports.synced];
    for ns in namespaces {
        let (store, synced_rx) = watch_secrets(
            client,
            ns.as_deref(),
            config.clone(),
            &leading,
            &reports.store,
            &secret_tx,
        );
        stores.push((ns, store));
        synced.push(synced_rx);
    }
    Watches {
        reports: reports.store,
        report_changes: reports.changes,
        secret_changes,
        report_removals: reports.removals,
        secrets: SecretIndex { stores, scope },
        synced: Synced(synced),
    }
}

/// The running ComplianceReport watch.
struct ReportWatch {
    store: Store<ComplianceReport>,
    synced: watch::Receiver<bool>,
    changes: mpsc::UnboundedReceiver<ComplianceReport>,
    removals: mpsc::UnboundedReceiver<()>,
}

/// Watches the ComplianceReports (of `namespace`, else all), passing new generations and
/// annotation changes on while `leading`.
fn watch_reports(
    client: &Client,
    namespace: Option<&str>,
    leading: &Arc<AtomicBool>,
) -> ReportWatch {
    let reports_api: Api<ComplianceReport> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store::<ComplianceReport>();
    let (synced_tx, synced) = watch::channel(false);
    let (report_tx, changes) = mpsc::unbounded_channel();
    let (removal_tx, removals) = mpsc::unbounded_channel();
    let report_stream = reflector(
        writer,
        watcher(reports_api, watcher::Config::default().any_semantic()).default_backoff(),
    )
    .inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) && !synced_tx.send_replace(true) {
            tracing::info!("the ComplianceReport watch has synced");
        }
        if matches!(
            event,
            Ok(watcher::Event::Delete(_) | watcher::Event::InitDone)
        ) {
            let _ = removal_tx.send(());
        }
    })
    .applied_objects()
    .predicate_filter(
        predicates::generation.combine(predicates::annotations),
        PredicateConfig::default().ttl(PREDICATE_TTL),
    );
    let lead = leading.clone();
    spawn_driven("ComplianceReport", report_stream, move |report| {
        if lead.load(Ordering::Relaxed) {
            let _ = report_tx.send(report);
        }
    });
    ReportWatch {
        store,
        synced,
        changes,
        removals,
    }
}

/// Watches the Secrets' metadata in `namespace` (else all), sending the reports of `reports`
/// that name a changed Secret to `changes` while `leading`.
fn watch_secrets(
    client: &Client,
    namespace: Option<&str>,
    config: watcher::Config,
    leading: &Arc<AtomicBool>,
    reports: &Store<ComplianceReport>,
    changes: &mpsc::UnboundedSender<ObjectRef<ComplianceReport>>,
) -> (Store<PartialObjectMeta<Secret>>, watch::Receiver<bool>) {
    // An Api of PartialObjectMeta lists and watches metadata only.
    let api: Api<PartialObjectMeta<Secret>> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store::<PartialObjectMeta<Secret>>();
    let (synced_tx, synced_rx) = watch::channel(false);
    let stream = reflector(
        writer,
        watcher(api, config)
            .default_backoff()
            .modify(keep_identity_only),
    )
    .inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) && !synced_tx.send_replace(true) {
            tracing::info!("the Secret metadata watch has synced");
        }
    })
    .touched_objects()
    .predicate_filter(
        predicates::resource_version,
        PredicateConfig::default().ttl(PREDICATE_TTL),
    );
    let (lead, reports, tx) = (leading.clone(), reports.clone(), changes.clone());
    spawn_driven(
        "Secret",
        stream,
        move |secret: PartialObjectMeta<Secret>| {
            if !lead.load(Ordering::Relaxed) {
                return;
            }
            let (namespace, name) = (secret.namespace(), secret.name_any());
            for report in reports.state() {
                if report.namespace() == namespace
                    && secret_refs(&report).iter().any(|(_, r)| r.name == name)
                {
                    let _ = tx.send(ObjectRef::from_obj(&*report));
                }
            }
        },
    );
    (store, synced_rx)
}

/// Drops everything but the name, namespace, uid and resource version: annotations such as
/// `kubectl.kubernetes.io/last-applied-configuration` can hold a Secret's whole data.
fn keep_identity_only(secret: &mut PartialObjectMeta<Secret>) {
    let meta = &mut secret.metadata;
    meta.annotations = None;
    meta.labels = None;
    meta.managed_fields = None;
    meta.owner_references = None;
    meta.finalizers = None;
}
