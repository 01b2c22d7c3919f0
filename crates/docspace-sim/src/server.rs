//! The axum router and the serve loops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};
use tokio::net::TcpListener;

use super::state::SimState;
use super::{SimConfig, SimError, limits, middleware, routes, sessions, upload};

/// What seeding produced and how long it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedStats {
    /// Number of audit events seeded.
    pub audit_events: usize,
    /// Number of login events seeded.
    pub login_events: usize,
    /// Wall time of seeding.
    pub elapsed: Duration,
    /// Bytes held by the compact event records.
    pub record_bytes: usize,
}

/// The simulator's routes behind request logging, fault injection and authentication.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route(
            "/api/2.0/security/audit/events/filter",
            get(routes::events_filter),
        )
        .route(
            "/api/2.0/security/audit/events/last",
            get(routes::events_last),
        )
        .route(
            "/api/2.0/security/audit/login/filter",
            get(routes::login_filter),
        )
        .route(
            "/api/2.0/security/audit/login/last",
            get(routes::login_last),
        )
        .route(
            "/api/2.0/security/audit/settings/lifetime",
            get(routes::lifetime),
        )
        .route("/api/2.0/portal/quota", get(routes::quota))
        .route("/api/2.0/keys/@self", get(routes::key_self))
        .route("/api/2.0/files/{folder_id}", get(upload::list_folder))
        .route(
            "/api/2.0/files/{folder_id}/upload",
            post(upload::upload).layer(DefaultBodyLimit::max(sessions::MAX_REQUEST_BODY)),
        )
        .route(
            "/api/2.0/files/{folder_id}/upload/check",
            post(upload::check),
        )
        .route("/api/2.0/files/file/{file_id}", delete(upload::delete_file))
        .route("/api/2.0/files/file/{file_id}/lock", put(upload::lock_file))
        .route("/api/2.0/files/fileops", get(upload::operations))
        .route(
            "/api/2.0/files/{folder_id}/upload/create_session",
            post(sessions::create),
        )
        .route(
            "/api/2.0/files/{folder_id}/session/{session_id}",
            post(sessions::chunk)
                .delete(sessions::abort)
                .layer(DefaultBodyLimit::max(sessions::MAX_CHUNK + (1 << 20))),
        )
        .route("/filehandler.ashx", get(upload::download))
        .route(
            "/api/2.0/files/fileops/deleteversion",
            put(upload::delete_version),
        )
        .fallback(routes::not_found)
        .layer(from_fn_with_state(state.clone(), limits::limits))
        .layer(from_fn_with_state(state.clone(), middleware::auth))
        .layer(from_fn_with_state(state.clone(), middleware::faults))
        .layer(from_fn_with_state(state.clone(), middleware::record))
        .with_state(state)
}

/// Seeds the data for `config` on a blocking thread.
pub(crate) async fn build_state(config: SimConfig) -> Result<Arc<SimState>, SimError> {
    let state = tokio::task::spawn_blocking(move || SimState::new(config))
        .await
        .map_err(|e| SimError::Task(e.to_string()))??;
    Ok(Arc::new(state))
}

/// Serves `state` on `listener` until `shutdown` completes.
pub(crate) async fn serve_state(
    state: Arc<SimState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Seeds the data, calls `on_ready` with the seeding statistics and the bound address, then
/// serves on `listener` until `shutdown` completes.
///
/// # Errors
///
/// [`SimError::InvalidConfig`] for an unusable configuration, [`SimError::Io`] if serving
/// fails, [`SimError::Task`] if the seeding thread panics.
pub async fn serve_until<R, S>(
    config: SimConfig,
    listener: TcpListener,
    on_ready: R,
    shutdown: S,
) -> Result<(), SimError>
where
    R: FnOnce(&SeedStats, SocketAddr),
    S: Future<Output = ()> + Send + 'static,
{
    let state = build_state(config).await?;
    on_ready(&state.stats, listener.local_addr()?);
    serve_state(state, listener, shutdown).await
}

/// Seeds the data and serves on `listener` until Ctrl-C or SIGTERM.
///
/// # Errors
///
/// As [`serve_until`].
pub async fn serve(config: SimConfig, listener: TcpListener) -> Result<(), SimError> {
    serve_until(config, listener, |_, _| {}, shutdown_signal()).await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM; never if signals cannot be installed.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
