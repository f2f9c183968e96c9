//! The consent banner over HTTP (issue 22; ePrivacy Directive Art. 5(3), Art. 7 GDPR, CJEU
//! C-673/17 Planet49): a webshop's cookies offered per consent purpose in its languages, every
//! choice recorded in the ledger under the visitor's random id before it counts, a refusal in
//! the audit trail, Global Privacy Control keeping marketing off, and bad input refused.

use crate::data::{Setup, json, send};
use crate::{Running, agent, get, reply};

const WEBSHOP: &str = include_str!("../../../../examples/policies/webshop.toml");
const VISITOR: &str = "0123456789abcdef0123456789abcdef";

fn shop(name: &str) -> (Setup, String) {
    let config = crate::data::sqlite_config(name);
    let backend = crate::data::open_backend(&config);
    let admin = crate::data::admin_key(&backend);
    let server = Running::start_configured(Some(backend), WEBSHOP.to_owned(), |c| {
        c.database = config.database.clone();
    });
    let s = Setup { server, admin };
    let (_, dpo, _) = crate::data::tenant(&s, "korenbloem");
    (s, dpo)
}

fn choose(s: &Setup, tenant: &str, body: serde_json::Value) -> crate::Reply {
    reply(
        agent()
            .post(&s.server.url(&format!("/banner/{tenant}/choices")))
            .header("content-type", "text/plain")
            .header("origin", "https://www.korenbloemwonen.example")
            .send(body.to_string())
            .expect("request completes"),
    )
}

fn consent_of(s: &Setup, dpo: &str, visitor: &str) -> serde_json::Value {
    let r = send(
        "POST",
        &s.server.url("/v1/consent/state"),
        dpo,
        Some(serde_json::json!({ "subject": format!("visitor:{visitor}") })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    json(&r)["purposes"].clone()
}

fn state<'a>(purposes: &'a serde_json::Value, purpose: &str) -> &'a str {
    purposes
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == purpose)
        .and_then(|p| p["consent"]["state"].as_str())
        .unwrap_or("absent")
}

#[test]
fn the_banner_offers_the_cookies_needing_consent_per_purpose_in_the_visitors_language() {
    let (s, _) = shop("banner-config");
    let js = get(&s.server.url("/banner/korenbloem/banner.js"));
    assert_eq!(js.status, 200);
    assert!(
        js.content_type.starts_with("text/javascript"),
        "{}",
        js.content_type
    );
    let en = get(&s.server.url("/banner/korenbloem/config.json?lang=en"));
    assert_eq!(en.status, 200, "{}", en.body);
    let c: serde_json::Value = serde_json::from_str(&en.body).unwrap();
    assert_eq!(c["lang"], "en");
    assert_eq!(c["texts"]["reject"], "Reject all");
    let groups = c["groups"].as_array().unwrap();
    let purposes: Vec<&str> = groups
        .iter()
        .map(|g| g["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["analytics", "targeting"], "{c}");
    let names = |i: usize| -> Vec<String> {
        groups[i]["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names(0).contains(&"_ga".to_owned()), "{c}");
    // Criteo claims legitimate interest; the law asks consent for it, so the banner asks (fail closed).
    assert!(names(1).contains(&"cto_bundle".to_owned()), "{c}");
    assert_eq!(groups[1]["gpc_refused"], true);
    let necessary: Vec<&str> = c["necessary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(necessary.contains(&"KWSESSID"), "{c}");
    assert!(
        necessary.contains(&"_pk_id"),
        "minimal-impact analytics need no consent under Dutch rules: {c}"
    );
    let nl: serde_json::Value =
        serde_json::from_str(&get(&s.server.url("/banner/korenbloem/config.json?lang=nl")).body)
            .unwrap();
    assert_eq!(nl["texts"]["reject"], "Alles weigeren");
    assert_eq!(get(&s.server.url("/banner/nobody/banner.js")).status, 404);
    assert_eq!(get(&s.server.url("/banner/nobody/config.json")).status, 404);
}

#[test]
fn a_choice_is_recorded_in_the_ledger_and_a_refusal_in_the_trail() {
    let (s, dpo) = shop("banner-choices");
    let version = "3.1";
    let r = choose(
        &s,
        "korenbloem",
        serde_json::json!({
            "visitor": VISITOR, "choices": { "analytics": true, "targeting": false }, "gpc": false, "version": version,
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        answer["choices"],
        serde_json::json!({ "analytics": true, "targeting": false })
    );
    let purposes = consent_of(&s, &dpo, VISITOR);
    assert_eq!(state(&purposes, "analytics"), "granted", "{purposes}");
    assert_eq!(state(&purposes, "targeting"), "never", "{purposes}");
    let trail = send(
        "GET",
        &s.server.url("/v1/audit?action=consent.refused&limit=10"),
        &dpo,
        None,
    );
    assert!(
        trail.body.contains("targeting") && trail.body.contains("banner"),
        "{}",
        trail.body
    );
    // Changing the mind: withdrawn in the ledger (Art. 7(3)).
    let r = choose(
        &s,
        "korenbloem",
        serde_json::json!({
            "visitor": VISITOR, "choices": { "analytics": false }, "gpc": false, "version": version,
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        state(&consent_of(&s, &dpo, VISITOR), "analytics"),
        "withdrawn"
    );
    // Global Privacy Control: marketing stays off whatever was clicked.
    let other = "fedcba9876543210fedcba9876543210";
    let r = choose(
        &s,
        "korenbloem",
        serde_json::json!({
            "visitor": other, "choices": { "analytics": true, "targeting": true }, "gpc": true, "version": version,
        }),
    );
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["choices"]["targeting"], false, "{answer}");
    assert_eq!(answer["choices"]["analytics"], true, "{answer}");
    assert_eq!(state(&consent_of(&s, &dpo, other), "targeting"), "never");
    // Bad input: refused, nothing recorded.
    for (body, field) in [
        (
            serde_json::json!({ "visitor": "ann@example.test", "choices": {}, "version": version }),
            "/visitor",
        ),
        (
            serde_json::json!({ "visitor": VISITOR, "choices": { "newsletter": true }, "version": version }),
            "/choices/newsletter",
        ),
        (
            serde_json::json!({ "visitor": VISITOR, "choices": {}, "version": "1.0" }),
            "/version",
        ),
    ] {
        let r = choose(&s, "korenbloem", body);
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains(field), "{}", r.body);
        assert!(!r.body.contains("ann@"), "the input is not repeated");
    }
    assert_eq!(
        choose(&s, "korenbloem", serde_json::json!("nonsense")).status,
        400
    );
    assert_eq!(
        choose(
            &s,
            "nobody",
            serde_json::json!({ "visitor": VISITOR, "choices": {}, "version": version })
        )
        .status,
        404
    );
}
