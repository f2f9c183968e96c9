//! The breach register over HTTP (Arts 33 and 34): a breach recorded with its 72-hour clock and
//! Custos's proposal, decided by a person, followed up and closed once the authority was told;
//! an invalid record refused field by field with nothing stored; who was affected counted in the
//! vault without naming anyone; the drafts for the authority and the people affected; auditors
//! read but do not write, and another tenant's breach does not exist.

use crate::data::{Setup, json, put, send, setup, tenant};

/// A person's answer.
fn by_dpo(value: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "value": value, "source": { "kind": "person", "actor": "dpo" } })
}

/// A confidentiality breach: the customer list e-mailed to the wrong customer an hour ago.
fn mispostal(aware_at: &str) -> serde_json::Value {
    serde_json::json!({
        "notification": { "kind": "new" },
        "aware_at": by_dpo(serde_json::json!(aware_at)),
        "kinds": by_dpo(serde_json::json!(["confidentiality"])),
        "description": by_dpo(serde_json::json!("An export of 40 customers' contact details was e-mailed to one wrong customer.")),
        "recipient": by_dpo(serde_json::json!({ "kind": "mistaken", "per_subject": 1 })),
        "unintelligible": by_dpo(serde_json::json!("not_encrypted")),
        "exfiltration": by_dpo(serde_json::json!({ "kind": "yes" })),
        "subject_count": by_dpo(serde_json::json!({ "kind": "exact", "n": 40 })),
        "data": by_dpo(serde_json::json!({ "categories": ["account"] })),
    })
}

fn start(name: &str) -> (Setup, String, String, String) {
    let s = setup(name);
    let (app, dpo, auditor) = tenant(&s, "acme");
    (s, app, dpo, auditor)
}

#[test]
fn a_breach_is_recorded_with_its_clock_and_proposal_decided_and_closed_once_the_authority_was_told()
{
    let (s, _, dpo, auditor) = start("breach-flow");
    // Whole seconds: the register keeps microseconds.
    let aware = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600).unwrap();
    let r = send(
        "POST",
        &s.server.url("/v1/breaches"),
        &dpo,
        Some(mispostal(&aware.to_string())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let b = json(&r);
    let id = b["breach_id"].as_str().unwrap().to_owned();
    assert_eq!(b["version"], 1);
    // Art. 33(1): 72 hours from awareness, in UTC.
    let deadline: jiff::Timestamp = b["deadline_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(deadline, aware + jiff::SignedDuration::from_hours(72));
    assert_eq!(b["clock"]["status"]["kind"], "running", "{}", b["clock"]);
    assert!(b["clock"]["rules"].as_str().unwrap().contains("gdpr-2016"));
    assert_eq!(b["proposal"]["notify_authority"], true, "{}", b["proposal"]);
    assert!(!b["proposal"]["reasons"].as_array().unwrap().is_empty());

    // Auditors read; they do not write.
    let listed = send("GET", &s.server.url("/v1/breaches"), &auditor, None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(json(&listed)["breaches"].as_array().unwrap().len(), 1);
    let refused = send(
        "POST",
        &s.server.url("/v1/breaches"),
        &auditor,
        Some(mispostal(&aware.to_string())),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);

    // A person decides, then the authority is told: the breach closes.
    let decided = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/decision")),
        &dpo,
        Some(
            serde_json::json!({ "version": 1, "notify_authority": true, "notify_subjects": false,
            "reasons": "contact details only, to one customer who confirmed deleting them: no high risk" }),
        ),
    );
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(json(&decided)["version"], 2);
    assert!(json(&decided)["closed_at"].is_null());
    let mut told = mispostal(&aware.to_string());
    told["told"] = serde_json::json!([{ "party": { "kind": "authority", "name": "Autoriteit Persoonsgegevens" },
        "at": jiff::Timestamp::now().to_string(), "reference": "AP-1", "source": { "kind": "person", "actor": "dpo" } }]);
    let stale = send(
        "PUT",
        &s.server.url(&format!("/v1/breaches/{id}")),
        &dpo,
        Some(serde_json::json!({ "version": 1, "breach": told })),
    );
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(json(&stale)["code"], "breach-stale");
    let closed = send(
        "PUT",
        &s.server.url(&format!("/v1/breaches/{id}")),
        &dpo,
        Some(serde_json::json!({ "version": 2, "breach": told })),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    let c = json(&closed);
    assert!(c["closed_at"].is_string(), "{c}");
    assert_eq!(c["clock"]["status"]["kind"], "notified");
    assert_eq!(c["decision"]["notify_authority"], true);
    let open = send("GET", &s.server.url("/v1/breaches"), &dpo, None);
    assert!(json(&open)["breaches"].as_array().unwrap().is_empty());

    // The trail holds the versions by digest, never the text.
    let trail = send("GET", &s.server.url("/v1/audit?limit=1000"), &dpo, None);
    assert!(trail.body.contains("breach.recorded") && trail.body.contains("breach.updated"));
    assert!(
        !trail.body.contains("wrong customer"),
        "no record text in the trail"
    );

    // Another tenant has no such breach.
    let (_, other, _) = tenant(&s, "globex");
    let r = send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{id}")),
        &other,
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn an_invalid_breach_is_refused_field_by_field_and_nothing_is_stored() {
    let (s, _, dpo, _) = start("breach-invalid");
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(5)).to_string();
    let mut b = mispostal(&future);
    b["occurred"] = by_dpo(
        serde_json::json!({ "kind": "range", "from": "2026-11-02T10:00:00Z", "to": "2026-11-01T10:00:00Z" }),
    );
    let r = send("POST", &s.server.url("/v1/breaches"), &dpo, Some(b));
    assert_eq!(r.status, 422, "{}", r.body);
    let p = json(&r);
    assert_eq!(p["code"], "invalid-breach");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"/aware_at") && fields.iter().any(|f| f.starts_with("/occurred")),
        "{fields:?}"
    );
    // A malformed body: the place named.
    let r = send(
        "POST",
        &s.server.url("/v1/breaches"),
        &dpo,
        Some(serde_json::json!({ "aware_at": 3 })),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let listed = send("GET", &s.server.url("/v1/breaches?all=true"), &dpo, None);
    assert!(json(&listed)["breaches"].as_array().unwrap().is_empty());
}

#[test]
fn the_affected_query_counts_the_vaults_subjects_without_naming_them_and_the_drafts_follow_the_record()
 {
    let (s, app, dpo, _) = start("breach-affected");
    for who in ["a@example.test", "b@example.test"] {
        assert_eq!(put(&s, &app, who, "hello").status, 201);
    }
    let aware = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let r = send(
        "POST",
        &s.server.url("/v1/breaches"),
        &dpo,
        Some(mispostal(&aware.to_string())),
    );
    let id = json(&r)["breach_id"].as_str().unwrap().to_owned();
    let window = serde_json::json!({ "categories": ["support"],
        "from": (aware - jiff::SignedDuration::from_hours(24)).to_string(), "to": jiff::Timestamp::now().to_string() });
    let r = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/affected")),
        &dpo,
        Some(window),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = json(&r);
    assert_eq!(
        (a["subjects"].as_u64(), a["records"].as_u64()),
        (Some(2), Some(2)),
        "{a}"
    );
    assert_eq!(a["encrypted_at_rest"], true);
    assert!(!r.body.contains("example.test"), "no one named");
    let bad = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/affected")),
        &dpo,
        Some(
            serde_json::json!({ "categories": ["nothing"], "from": aware.to_string(), "to": aware.to_string() }),
        ),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("/categories/0"), "{}", bad.body);

    // The drafts: the authority's form in its chapters, with what is missing; the letter in Dutch.
    let r = send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{id}/draft?lang=nl")),
        &dpo,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = json(&r);
    let chapters = d["authority"]["chapters"].as_array().unwrap();
    assert!(chapters.len() >= 10, "{}", d["authority"]);
    assert!(
        !d["authority"]["missing"].as_array().unwrap().is_empty(),
        "measures, consequences, … are open"
    );
    assert_eq!(d["letter"]["lang"], "nl", "{}", d["letter"]);
    let r = send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{id}/draft?lang=fr")),
        &dpo,
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
}
