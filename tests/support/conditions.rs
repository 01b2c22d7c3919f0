//! A ComplianceReport's status conditions as the API server returns them, and waiting for
//! something to hold.

use std::time::{Duration, Instant};

/// How long a test waits for the operator to get somewhere.
pub const WAIT: Duration = Duration::from_secs(60);

/// The Ready condition as (status, reason, message), if present.
pub fn ready(value: &serde_json::Value) -> Option<(String, String, String)> {
    let conditions = value["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((
        c["status"].as_str()?.to_owned(),
        c["reason"].as_str()?.to_owned(),
        c["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// The Ready condition's reason, if present.
pub fn ready_reason(value: &serde_json::Value) -> Option<&str> {
    value["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["reason"]
        .as_str()
}

/// Ready has `reason`.
pub fn reason_is(reason: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |v| ready(v).is_some_and(|(_, r, _)| r == reason)
}

/// The condition of `type_` as (status, reason), if present.
pub fn condition(value: &serde_json::Value, type_: &str) -> Option<(String, String)> {
    let conditions = value["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == type_)?;
    Some((
        c["status"].as_str()?.to_owned(),
        c["reason"].as_str()?.to_owned(),
    ))
}

/// Ready has `reason` and every condition describes the current generation.
pub fn current_reason_is(reason: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |v| {
        let generation = &v["metadata"]["generation"];
        ready(v).is_some_and(|(_, r, _)| r == reason)
            && v["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().all(|c| &c["observedGeneration"] == generation))
    }
}

/// Polls `check` until it holds or `timeout` passes.
pub fn eventually(what: &str, timeout: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
