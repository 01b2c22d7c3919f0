//! Event rendering: the contract's fields, and byte-for-byte equality with the `serde`
//! rendering in [`super::reference_dto`].

use chrono_tz::Tz;
use serde_json::Value;

use super::catalog::{AUDIT_ACTIONS, Subject};
use super::events::{audit_target, audit_view, login_user_id, login_view};
use super::guid::EMPTY_GUID;
use super::reference_dto;
use super::render::EventWriter;
use super::seed::{AuditRec, LoginRec, seed_login};
use super::test_support::{MARCH_FROM as FROM, MARCH_TO as TO, march_audit};
use super::texts::Texts;
use super::world::World;

fn audit_json(world: &World, texts: &Texts, rec: &AuditRec, tz: Tz, base: &str) -> Vec<u8> {
    let mut out = Vec::new();
    EventWriter::new(base, tz).audit(&mut out, &audit_view(world, texts, rec));
    out
}

fn login_json(world: &World, texts: &Texts, rec: &LoginRec, tz: Tz, base: &str) -> Vec<u8> {
    let mut out = Vec::new();
    EventWriter::new(base, tz).login(&mut out, &login_view(world, texts, rec));
    out
}

#[test]
fn audit_events_have_contract_fields() {
    let (world, recs) = march_audit(1, 3000);
    let texts = Texts::new(&world);
    let mut saw_truncated_ip = false;
    for rec in &recs {
        let dto: Value =
            serde_json::from_slice(&audit_json(&world, &texts, rec, Tz::UTC, "http://h")).unwrap();
        let spec = &AUDIT_ACTIONS[usize::from(rec.action)];
        let action = dto["action"].as_str().unwrap();
        assert_eq!(dto["actionId"], spec.id);
        assert!(!action.contains('{'), "{action}");
        assert!(dto["date"].as_str().unwrap().ends_with(".0000000Z"));
        match spec.subject {
            Subject::Settings | Subject::Trash => assert!(dto.get("target").is_none()),
            _ => assert_eq!(dto["target"].as_array().map(Vec::len), Some(1)),
        }
        if spec.product == 2 && spec.subject != Subject::Trash {
            assert!(dto["context"].as_str().unwrap().starts_with("Rooms: "));
        }
        if dto["ip"] == "2001" {
            saw_truncated_ip = true;
        }
        if spec.id == 5011 {
            assert!(action.starts_with("File Uploaded: "));
        }
    }
    assert!(saw_truncated_ip);
}

#[test]
fn login_events_use_email_and_empty_guid_for_unknown() {
    let world = World::generate(1, 2025, FROM);
    let texts = Texts::new(&world);
    let recs = seed_login(&world, 1, FROM, TO, 2000);
    let dtos: Vec<Value> = recs
        .iter()
        .map(|r| serde_json::from_slice(&login_json(&world, &texts, r, Tz::UTC, "http://h")))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        dtos.iter()
            .all(|d| d["login"].as_str().unwrap().contains('@'))
    );
    assert!(
        dtos.iter()
            .any(|d| d.get("user").is_none() && d["userId"] == EMPTY_GUID)
    );
    for (rec, dto) in recs.iter().zip(&dtos) {
        assert_eq!(login_user_id(&world, rec), dto["userId"]);
    }
}

/// Portal zones with whole-hour, half-hour and 45-minute offsets and DST changes in March.
const ZONES: [Tz; 5] = [
    Tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::America::New_York,
];

/// Base URLs, including ones that need escaping.
const BASES: [&str; 3] = ["http://127.0.0.1:8092", "http://we\"ird\\host", "http://"];

#[test]
fn audit_events_equal_serde_rendering() {
    for seed in [1, 20_250_301] {
        let (world, recs) = march_audit(seed, 20_000);
        let texts = Texts::new(&world);
        for (i, rec) in recs.iter().enumerate() {
            let tz = ZONES[i % ZONES.len()];
            let base = BASES[i % BASES.len()];
            let expected =
                serde_json::to_vec(&reference_dto::audit_event(&world, rec, tz, base)).unwrap();
            let written = audit_json(&world, &texts, rec, tz, base);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap(),
                "seed {seed}, record {rec:?}"
            );
            assert_eq!(
                audit_target(&world, &texts, rec),
                reference_dto::audit_target(&world, rec).as_deref()
            );
        }
    }
}

#[test]
fn every_audit_action_equals_serde_rendering() {
    // Rare actions and out-of-range entities, whatever the seeded mix contains.
    let (world, recs) = march_audit(5, 200);
    let texts = Texts::new(&world);
    let mut rng = fastrand::Rng::with_seed(9);
    for action in 0..AUDIT_ACTIONS.len() {
        for entity in [0, 1, 7, 24, 1_000_000] {
            let rec = AuditRec {
                action: u16::try_from(action).unwrap(),
                entity,
                seed: rng.u64(..),
                user: rng.u8(..),
                ..recs[action % recs.len()]
            };
            let expected =
                serde_json::to_vec(&reference_dto::audit_event(&world, &rec, Tz::UTC, BASES[1]))
                    .unwrap();
            assert_eq!(
                audit_json(&world, &texts, &rec, Tz::UTC, BASES[1]),
                expected,
                "{rec:?}"
            );
        }
    }
}

#[test]
fn login_events_equal_serde_rendering() {
    for seed in [1, 20_250_301] {
        let world = World::generate(seed, 2025, FROM);
        let texts = Texts::new(&world);
        let recs = seed_login(&world, seed, FROM, TO, 5000);
        for (i, rec) in recs.iter().enumerate() {
            let tz = ZONES[i % ZONES.len()];
            let base = BASES[i % BASES.len()];
            let expected =
                serde_json::to_vec(&reference_dto::login_event(&world, rec, tz, base)).unwrap();
            assert_eq!(
                login_json(&world, &texts, rec, tz, base),
                expected,
                "seed {seed}, record {rec:?}"
            );
        }
    }
}
