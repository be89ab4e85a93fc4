//! The JSON of each type, byte for byte as the server has always written and read it: the
//! field names, what is left out when absent, and the messages of refused request bodies
//! (the server answers 400 with them).

use serde::de::DeserializeOwned;
use strongroom_proto::audit::{AuditEvent, AuditPage, AuditQuery, ChainReport};
use strongroom_proto::clients::{
    BackupClient, ClientChange, ClientList, ClientOwners, NewClient, Passkey,
};
use strongroom_proto::errors::ErrorBody;
use strongroom_proto::restore::{RestoreDecision, RestoreQuery, RestoreReason};
use strongroom_proto::system::{DataKey, RotateDataKey, Rotation};
use zeroize::Zeroizing;

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap()
}

/// Serde's message for a refused body, without its position.
fn refusal<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
    let message = serde_json::from_str::<T>(body).unwrap_err().to_string();
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

#[test]
fn a_client_is_written_with_a_null_authorization() {
    let client = BackupClient {
        id: 1,
        name: "db1".into(),
        host_name: "db1.example.org".into(),
        display_name: "db1".into(),
        owners: vec!["alice".into()],
        passkey: Passkey {
            enabled: false,
            authorized_until: None,
        },
    };
    let list = ClientList {
        clients: vec![client],
    };
    assert_eq!(
        json(&list),
        r#"{"clients":[{"id":1,"name":"db1","hostName":"db1.example.org","displayName":"db1","owners":["alice"],"passkey":{"enabled":false,"authorizedUntil":null}}]}"#
    );
}

#[test]
fn client_requests_leave_out_what_is_not_given() {
    let new = NewClient {
        name: "db1".into(),
        host_name: "h".into(),
        display_name: None,
        owners: vec![],
    };
    assert_eq!(json(&new), r#"{"name":"db1","hostName":"h"}"#);
    assert_eq!(
        serde_json::from_str::<NewClient>(r#"{"name":"db1","hostName":"h"}"#).unwrap(),
        new
    );
    assert_eq!(json(&ClientChange::default()), "{}");
    assert_eq!(
        json(&ClientChange {
            display_name: Some("D".into()),
            ..ClientChange::default()
        }),
        r#"{"displayName":"D"}"#
    );
    assert_eq!(json(&ClientOwners { owners: vec![] }), r#"{"owners":[]}"#);
}

#[test]
fn request_bodies_refuse_unknown_and_missing_fields() {
    assert_eq!(
        refusal::<NewClient>(r#"{"name":"a","hostName":"h","extra":1}"#),
        "unknown field `extra`, expected one of `name`, `hostName`, `displayName`, `owners`"
    );
    assert_eq!(
        refusal::<NewClient>(r#"{"name":"a"}"#),
        "missing field `hostName`"
    );
    assert_eq!(
        refusal::<NewClient>(r#"{"name":"a","hostName":"h","owners":null}"#),
        "invalid type: null, expected a sequence"
    );
    assert_eq!(
        refusal::<ClientChange>(r#"{"host_name":"h"}"#),
        "unknown field `host_name`, expected one of `name`, `hostName`, `displayName`"
    );
    assert_eq!(refusal::<ClientOwners>(r#"{}"#), "missing field `owners`");
    assert_eq!(
        refusal::<RotateDataKey>(r#"{"unlockPassphrase":"p","x":1}"#),
        "unknown field `x`, expected `unlockPassphrase`"
    );
    assert_eq!(
        refusal::<RotateDataKey>(r#"{"unlockPassphrase":5}"#),
        "invalid type: integer `5`, expected a string"
    );
    assert!(refusal::<AuditQuery>(r#"{"after":1,"page":2}"#).contains("unknown field `page`"));
    assert!(
        refusal::<RestoreQuery>(r#"{"operation":"browse","x":1}"#).contains("unknown field `x`")
    );
}

#[test]
fn the_rotation_passphrase_is_not_in_debug() {
    let req = RotateDataKey {
        unlock_passphrase: Zeroizing::new("correct horse battery".into()),
    };
    assert!(!format!("{req:?}").contains("horse"));
    assert_eq!(
        json(&req),
        r#"{"unlockPassphrase":"correct horse battery"}"#
    );
}

#[test]
fn system_answers() {
    assert_eq!(
        json(&DataKey {
            key_version: 2,
            rotation_in_progress: false
        }),
        r#"{"keyVersion":2,"rotationInProgress":false}"#
    );
    assert_eq!(
        json(&Rotation {
            key_version: 2,
            resumed: true,
            resealed: 9,
            unreadable: 0
        }),
        r#"{"keyVersion":2,"resumed":true,"resealed":9,"unreadable":0}"#
    );
}

#[test]
fn decisions_leave_out_an_absent_window() {
    let decision = |reason: RestoreReason, until: Option<&str>| RestoreDecision {
        allowed: reason.allows(),
        reason,
        authorized_until: until.map(str::to_owned),
    };
    assert_eq!(
        json(&decision(RestoreReason::CompanyPasskeyRequired, None)),
        r#"{"allowed":false,"reason":"company-passkey-required"}"#
    );
    assert_eq!(
        json(&decision(
            RestoreReason::Authorized,
            Some("2026-11-23T12:30:00Z")
        )),
        r#"{"allowed":true,"reason":"authorized","authorizedUntil":"2026-11-23T12:30:00Z"}"#
    );
    assert_eq!(
        json(&decision(RestoreReason::NoPasskey, None)),
        r#"{"allowed":true,"reason":"no-passkey"}"#
    );
    assert_eq!(
        json(&decision(RestoreReason::PasskeyRequired, None)),
        r#"{"allowed":false,"reason":"passkey-required"}"#
    );
}

#[test]
fn audit_answers_leave_out_what_is_absent() {
    let event = AuditEvent {
        seq: 2,
        time: "t".into(),
        actor: None,
        face: "nethsm".into(),
        action: "a".into(),
        target: "x".into(),
        outcome: "denied".into(),
        status: None,
        request_id: "r".into(),
        count: None,
        since: None,
        keyed: false,
        prev_hash: "p".into(),
        hash: "h".into(),
    };
    assert_eq!(
        json(&event),
        r#"{"seq":2,"time":"t","actor":null,"face":"nethsm","action":"a","target":"x","outcome":"denied","requestId":"r","prevHash":"p","hash":"h"}"#
    );
    let counted = AuditEvent {
        status: Some(401),
        count: Some(3),
        since: Some("s".into()),
        keyed: true,
        ..event
    };
    assert_eq!(
        json(&AuditPage {
            events: vec![counted],
            unreadable: vec![7],
            next: None
        }),
        r#"{"events":[{"seq":2,"time":"t","actor":null,"face":"nethsm","action":"a","target":"x","outcome":"denied","status":401,"requestId":"r","count":3,"since":"s","keyed":true,"prevHash":"p","hash":"h"}],"unreadable":[7]}"#
    );
    assert_eq!(
        json(&ChainReport {
            verified: true,
            events: 7,
            pruned_through: None,
            broken_at: None,
            reason: None
        }),
        r#"{"verified":true,"events":7}"#
    );
    assert_eq!(
        json(&ChainReport {
            verified: false,
            events: 3,
            pruned_through: Some(1),
            broken_at: Some(4),
            reason: Some("r".into())
        }),
        r#"{"verified":false,"events":3,"prunedThrough":1,"brokenAt":4,"reason":"r"}"#
    );
}

#[test]
fn errors_are_a_message() {
    let e: ErrorBody = serde_json::from_str(r#"{"message":"Client not found."}"#).unwrap();
    assert_eq!(e.message, "Client not found.");
    assert_eq!(json(&e), r#"{"message":"Client not found."}"#);
}
