//! The server's rate limiter, when a portal enables it (`RateLimiterSettings`): a sliding
//! window of requests per minute and a cap on GETs in flight, per caller; past either, 429 with
//! an empty body and `X-RateLimit-*` headers, without `Retry-After` (RedisRateLimiting's
//! sliding-window and concurrency leases carry none). Plus a fixed latency per request, as a
//! real portal takes time per page.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::envelope;
use super::state::SimState;

/// The limiter's state: accepted requests of the last minute and GETs in flight.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    window: std::sync::Mutex<VecDeque<Instant>>,
    gets_in_flight: AtomicUsize,
}

/// Decrements the in-flight count when the GET is done, however it ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn too_many(limit: u32) -> Response {
    let mut response = envelope::empty(StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers_mut();
    headers.insert("X-RateLimit-Limit", HeaderValue::from(limit));
    headers.insert("X-RateLimit-Remaining", HeaderValue::from(0u32));
    response
}

/// Applies the configured limits and latency (after authentication, as the server does).
///
/// The server chains its limiters: the sliding window first, where an accepted request is
/// logged at once, then the concurrency cap, so a GET refused for concurrency has still used a
/// slot of the window. Neither sends `Retry-After` (only the daily write limit does).
pub(crate) async fn limits(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    let limiter = state.limiter();
    if let Some(per_minute) = config.rate_limit_per_minute {
        let now = Instant::now();
        let mut window = limiter.window.lock().unwrap_or_else(|e| e.into_inner());
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= per_minute as usize {
            return too_many(per_minute);
        }
        window.push_back(now);
    }
    let _slot = if let Some(max) = config
        .max_concurrent_gets
        .filter(|_| req.method() == Method::GET)
    {
        let before = limiter.gets_in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = InFlight(&limiter.gets_in_flight);
        if before >= max as usize {
            return too_many(max);
        }
        Some(slot)
    } else {
        None
    };
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::SimConfig;
    use crate::test_support::{march, start};

    const QUOTA: &str = "/api/2.0/portal/quota";

    #[tokio::test]
    async fn the_window_limiter_answers_429_without_retry_after() {
        let config = SimConfig {
            rate_limit_per_minute: Some(5),
            ..march(10, 0)
        };
        let (sim, client) = start(config).await;
        for _ in 0..5 {
            assert_eq!(client.get(QUOTA).await.status(), 200);
        }
        let limited = client.get(QUOTA).await;
        assert_eq!(limited.status(), 429);
        let headers = limited.headers().clone();
        assert_eq!(headers["X-RateLimit-Limit"], "5");
        assert_eq!(headers["X-RateLimit-Remaining"], "0");
        assert!(headers.get("retry-after").is_none(), "{headers:?}");
        assert!(limited.text().await.unwrap().is_empty(), "an empty body");
        let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    }

    #[tokio::test]
    async fn the_concurrency_limiter_refuses_gets_beyond_the_cap() {
        let config = SimConfig {
            max_concurrent_gets: Some(2),
            latency: Duration::from_millis(300),
            ..march(10, 0)
        };
        let (sim, client) = start(config).await;
        let (a, b, c) = tokio::join!(client.get(QUOTA), client.get(QUOTA), client.get(QUOTA));
        let mut statuses = vec![
            a.status().as_u16(),
            b.status().as_u16(),
            c.status().as_u16(),
        ];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 429]);
        let limited = [a, b, c].into_iter().find(|r| r.status() == 429).unwrap();
        assert!(limited.headers().get("retry-after").is_none());
        // Once they are done, GETs pass again.
        assert_eq!(client.get(QUOTA).await.status(), 200);
        assert_eq!(sim.requests().len(), 4);
    }
}
