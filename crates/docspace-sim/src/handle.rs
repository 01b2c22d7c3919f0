//! The handle of an in-process simulator: address, inspection, fault injection, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::faults::FaultRule;
use super::server::{SeedStats, build_state, serve_state};
use super::state::{RequestRecord, SimState, StoredFile};
use super::{SimConfig, SimError};

/// How long [`SimHandle::shutdown`] waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulator. Dropping it or calling [`SimHandle::shutdown`] stops the server.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), SimError>>>,
}

/// Seeds `config` and serves it on `listener` in a background task.
pub(crate) async fn start_on(
    config: SimConfig,
    listener: TcpListener,
) -> Result<SimHandle, SimError> {
    let state = build_state(config).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_state(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Ok(SimHandle {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl SimHandle {
    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the portal's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The configured API key.
    pub fn api_key(&self) -> &str {
        &self.state.config.api_key
    }

    /// Statistics of the seeding.
    pub fn seed_stats(&self) -> SeedStats {
        self.state.stats.clone()
    }

    /// Files currently stored (latest version each), by id.
    pub fn uploads(&self) -> Vec<StoredFile> {
        self.state.files().snapshot()
    }

    /// Locks or unlocks a stored file, as a person editing it would; false if there is none.
    pub fn set_locked(&self, id: i64, locked: bool) -> bool {
        self.state.files().set_locked(id, locked).is_some()
    }

    /// Adds a fault rule; rules apply in the order added.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults().add(rule);
    }

    /// Every request served so far, in completion order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// Forgets the requests recorded so far (to count those of the next run alone).
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Ids of the stored audit events whose date (whole seconds) is in `[from, to_inclusive]`,
    /// newest first.
    pub fn audit_event_ids_in(&self, from: DateTime<Utc>, to_inclusive: DateTime<Utc>) -> Vec<i64> {
        self.state.audit_event_ids_in(from, to_inclusive)
    }

    /// Ids of the stored login events whose date (whole seconds) is in `[from, to_inclusive]`,
    /// newest first.
    pub fn login_event_ids_in(&self, from: DateTime<Utc>, to_inclusive: DateTime<Utc>) -> Vec<i64> {
        self.state.login_event_ids_in(from, to_inclusive)
    }

    /// Appends `n` audit events dated `date` (truncated to the second) with the next ids.
    pub fn insert_audit_events_at(&self, date: DateTime<Utc>, n: usize) {
        self.state.insert_audit_events_at(date, n);
    }

    /// Late persistence, as DocSpace's event bus does it: `n` audit events that happened at
    /// `date` are stored only `delay` from now, whatever has been read meanwhile.
    pub fn store_late(&self, date: DateTime<Utc>, n: usize, delay: std::time::Duration) {
        let state = self.state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            state.insert_audit_events_at(date, n);
        });
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s) and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
