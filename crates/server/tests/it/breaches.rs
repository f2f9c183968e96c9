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

/// A server for the letters, mailing through the local SMTP receiver, its timer quick.
fn start_mailing(name: &str, smtp: &crate::smtp::Receiver) -> Setup {
    let port = smtp.addr().port();
    serve(name, crate::JBSYNC.to_owned(), |c| {
        c.smtp = Some(crate::center::smtp_at(port));
        c.notify_interval = Some(std::time::Duration::from_millis(150));
        c.purge_interval = None;
    })
}

/// A server on `policy` with a vault of its own and an admin key, as `adjust` configures it.
fn serve(name: &str, policy: String, adjust: impl FnOnce(&mut custos_server::Config)) -> Setup {
    let config = crate::data::sqlite_config(name);
    let backend = crate::data::open_backend(&config);
    let admin = crate::data::admin_key(&backend);
    let server = crate::Running::start_configured(Some(backend), policy, |c| {
        c.database = config.database.clone();
        adjust(c);
    });
    Setup { server, admin }
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !ok() {
        assert!(
            std::time::Instant::now() < until,
            "waited in vain for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Art. 33(2) and Clause 9.2 of Decision (EU) 2021/915: a processor's breach reaches each affected
/// controller-tenant with its own counts only (by real SMTP to its contact), lands in that
/// tenant's register with the clock running from the notice, leaves a tenant with nothing
/// affected alone, and a second call with the same reference tells no one twice.
#[test]
fn a_processors_breach_reaches_each_affected_controller_with_its_own_counts_once() {
    let smtp = crate::smtp::Receiver::start();
    let s = start_mailing("breach-notices", &smtp);
    let (acme_app, acme_dpo, _) = tenant(&s, "acme");
    let (globex_app, globex_dpo, _) = tenant(&s, "globex");
    let _ = tenant(&s, "initech");
    for who in ["a@example.test", "b@example.test"] {
        assert_eq!(put(&s, &acme_app, who, "hello").status, 201);
    }
    assert_eq!(put(&s, &globex_app, "c@example.test", "hi").status, 201);
    let r = send(
        "PUT",
        &s.server.url("/v1/announcements/contacts"),
        &acme_dpo,
        Some(serde_json::json!({ "addresses": ["privacy@acme.example"] })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let aware = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let call = serde_json::json!({
        "reference": "JB-2026-7",
        "breach": mispostal(&aware.to_string()),
        "categories": ["support"],
        "from": (aware - jiff::SignedDuration::from_hours(24)).to_string(),
        "to": jiff::Timestamp::now().to_string(),
        "lang": "en",
    });
    let refused = send(
        "POST",
        &s.server.url("/v1/breach-notices"),
        &acme_dpo,
        Some(call.clone()),
    );
    assert_eq!(
        refused.status, 403,
        "a controller's key cannot notify other controllers: {}",
        refused.body
    );
    let r = send(
        "POST",
        &s.server.url("/v1/breach-notices"),
        &s.admin,
        Some(call.clone()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["not_affected"], serde_json::json!(["initech"]), "{v}");
    let notices = v["notices"].as_array().unwrap();
    let of = |t: &str| {
        notices
            .iter()
            .find(|n| n["tenant"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("{t} told: {v}"))
    };
    assert_eq!(
        (
            of("acme")["subjects"].as_u64(),
            of("acme")["records"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(of("globex")["subjects"].as_u64(), Some(1));
    assert_eq!(
        of("globex")["not_configured"],
        serde_json::json!(["email", "webhook"]),
        "on record"
    );
    // The e-mail to acme's contact, with acme's counts and not globex's.
    let mail = smtp.wait_for(1, std::time::Duration::from_secs(15));
    assert_eq!(mail.len(), 1, "globex has no contact: one message");
    assert_eq!(mail[0].to, ["privacy@acme.example"]);
    let text = crate::mail::decoded_body(&mail[0].data);
    assert!(text.contains("JB-2026-7"), "{text}");
    assert!(text.contains("Your data subjects affected: 2"), "{text}");
    // In acme's register: its own breach, aware from the notice, its counts derived by Custos.
    let acme_id = of("acme")["breach_id"].as_str().unwrap().to_owned();
    let b = json(&send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{acme_id}")),
        &acme_dpo,
        None,
    ));
    let aware_at: jiff::Timestamp = b["breach"]["aware_at"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        aware_at > aware,
        "the controller is aware from the notice: {b}"
    );
    assert_eq!(
        b["breach"]["subject_count"]["source"]["kind"], "custos",
        "{b}"
    );
    wait_until("the delivery on record", || {
        let l = json(&send(
            "GET",
            &s.server.url(&format!("/v1/breaches/{acme_id}/letters")),
            &acme_dpo,
            None,
        ));
        l["letters"][0]["counts"]["delivered"] == 1
    });
    // Globex sees only its own breach.
    let g = json(&send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{acme_id}")),
        &globex_dpo,
        None,
    ));
    assert_eq!(g["code"], "breach-not-found", "{g}");
    // The same call again: nothing new, no second message.
    let again = json(&send(
        "POST",
        &s.server.url("/v1/breach-notices"),
        &s.admin,
        Some(call),
    ));
    assert!(
        again["notices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["new"] == false),
        "{again}"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(smtp.messages().len(), 1, "no one told twice");
}

/// Art. 34(1) and (2): no letter before a person decided the people are to be told; then the
/// letter in Dutch by real SMTP to each address given, each address once, delivered on record;
/// no address in the audit trail.
#[test]
fn letters_to_the_people_affected_go_out_once_a_person_decided_and_are_on_record() {
    let smtp = crate::smtp::Receiver::start();
    let s = start_mailing("breach-letters", &smtp);
    let (_, dpo, auditor) = tenant(&s, "acme");
    let aware = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let r = send(
        "POST",
        &s.server.url("/v1/breaches"),
        &dpo,
        Some(mispostal(&aware.to_string())),
    );
    let id = json(&r)["breach_id"].as_str().unwrap().to_owned();
    let to =
        serde_json::json!({ "addresses": ["ann@example.test", "bob@example.test"], "lang": "nl" });
    let early = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &dpo,
        Some(to.clone()),
    );
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(early.body.contains("Art. 34(1)"), "{}", early.body);
    let decided = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/decision")),
        &dpo,
        Some(
            serde_json::json!({ "version": 1, "notify_authority": true, "notify_subjects": true,
            "reasons": "contact details of 40 customers to a stranger: we tell them" }),
        ),
    );
    assert_eq!(decided.status, 200, "{}", decided.body);
    let bad = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &dpo,
        Some(serde_json::json!({ "addresses": ["ann@example.test", "nobody"] })),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("/addresses/1") && !bad.body.contains("nobody"),
        "{}",
        bad.body
    );
    let by_auditor = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &auditor,
        Some(to.clone()),
    );
    assert_eq!(by_auditor.status, 403);
    let q = send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &dpo,
        Some(to.clone()),
    );
    assert_eq!(q.status, 202, "{}", q.body);
    assert_eq!(json(&q)["queued"], 2);
    let mail = smtp.wait_for(2, std::time::Duration::from_secs(15));
    assert_eq!(mail.len(), 2);
    assert!(
        mail.iter().all(|m| m.data.contains("Content-Language: nl")),
        "{}",
        mail[0].data
    );
    let again = json(&send(
        "POST",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &dpo,
        Some(to),
    ));
    assert_eq!(
        (again["queued"].as_u64(), again["already"].as_u64()),
        (Some(0), Some(2))
    );
    wait_until("both deliveries on record", || {
        let l = json(&send(
            "GET",
            &s.server.url(&format!("/v1/breaches/{id}/letters")),
            &auditor,
            None,
        ));
        l["letters"][0]["counts"]["delivered"] == 2
    });
    let l = send(
        "GET",
        &s.server.url(&format!("/v1/breaches/{id}/letters")),
        &auditor,
        None,
    );
    assert!(!l.body.contains("example.test"), "{}", l.body);
    let trail = send("GET", &s.server.url("/v1/audit?limit=1000"), &dpo, None);
    assert!(
        trail.body.contains("breach.letter_delivery"),
        "{}",
        trail.body
    );
    assert!(
        !trail.body.contains("example.test"),
        "no address in the trail"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(smtp.messages().len(), 2, "each address told once");
}

/// UAVG art. 42 as the policy says it: a financial undertaking under the Wft is exempt from
/// Art. 34, so for the same high-risk breach Custos proposes telling the people affected without
/// the setting and not with it.
#[test]
fn the_policys_financial_undertaking_setting_exempts_from_telling_the_people_affected() {
    let proposal = |policy: String, name: &str| {
        let s = serve(name, policy, |c| c.max_body_bytes = 16384);
        let (_, dpo, _) = tenant(&s, "acme");
        let mut b =
            mispostal(&(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string());
        b["data"] = by_dpo(
            serde_json::json!({ "categories": ["account"], "financial": true, "credentials": true }),
        );
        b["subject_count"] = by_dpo(serde_json::json!({ "kind": "exact", "n": 4000 }));
        b["recipient"] = by_dpo(serde_json::json!({ "kind": "unknown" }));
        let r = send("POST", &s.server.url("/v1/breaches"), &dpo, Some(b));
        assert_eq!(r.status, 201, "{}", r.body);
        json(&r)["proposal"].clone()
    };
    let plain = proposal(crate::JBSYNC.to_owned(), "breach-uavg-no");
    assert_eq!(plain["subjects"]["kind"], "communicate", "{plain}");
    let exempt = proposal(
        crate::JBSYNC.replace("[breach]\n", "[breach]\nfinancial_undertaking = true\n"),
        "breach-uavg-yes",
    );
    assert_ne!(exempt["subjects"]["kind"], "communicate", "{exempt}");
    assert!(exempt.to_string().contains("UAVG art. 42"), "{exempt}");
}
