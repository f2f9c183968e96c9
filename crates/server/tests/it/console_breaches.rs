//! The console's breach register over HTTP (issue 21; Arts 33 and 34 GDPR): a real server on a
//! real SQLite vault, accounts signed in with password and TOTP. A dpo records a breach and sees
//! its 72-hour deadline, decides, records that the authority was told and the breach closes; an
//! auditor reads but records and decides nothing; a forged form token changes nothing; an
//! awareness time in the future is refused with the field named; another tenant's breach does
//! not exist; the pages and drafts in Dutch and English.

use custos_access::Role;
use custos_access::account::NewAccount;
use jiff::{SignedDuration, Timestamp};

use crate::Running;
use crate::console::{csrf_of, token_for};
use crate::console::{get_in as get, post_in as post};
use crate::data::{json, send, sqlite_config};

/// A moment as a `datetime-local` field takes it: Amsterdam time, to the minute.
fn local(at: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    at.to_zoned(tz).strftime("%Y-%m-%dT%H:%M").to_string()
}

/// Now less `minutes`, to the whole minute (what a `datetime-local` field holds).
fn minutes_ago(minutes: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now % 60 - minutes * 60).unwrap()
}

/// The server; tenant `acme` with a dpo and an auditor account and a dpo API key; tenant
/// `globex` with a dpo API key.
struct Register {
    server: Running,
    dpo: NewAccount,
    auditor: NewAccount,
    key: String,
    globex_key: String,
}

fn start(name: &str) -> Register {
    let config = sqlite_config(name);
    let backend = crate::data::open_backend(&config);
    let now = Timestamp::now();
    let (dpo, auditor, key, globex_key) = {
        let mut a = backend.access.lock().unwrap();
        a.create_tenant("acme", "acme", now).unwrap();
        a.create_tenant("globex", "globex", now).unwrap();
        let key = a
            .issue_key(Some("acme"), Role::Dpo, "dpo", now)
            .unwrap()
            .key;
        let globex_key = a
            .issue_key(Some("globex"), Role::Dpo, "dpo", now)
            .unwrap()
            .key;
        let dpo = a
            .add_account(Some("acme"), Role::Dpo, "breach dpo", now)
            .unwrap();
        let auditor = a
            .add_account(Some("acme"), Role::Auditor, "breach auditor", now)
            .unwrap();
        (dpo, auditor, key, globex_key)
    };
    let mut config = config;
    config.listen = "127.0.0.1:0".parse().expect("address");
    let server = Running::serve(config, crate::JBSYNC, Some(backend));
    Register {
        server,
        dpo,
        auditor,
        key,
        globex_key,
    }
}

impl Register {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn session(&self, who: &NewAccount, steps: i64) -> String {
        crate::console::session_on(&self.server, who, steps)
    }

    /// The register as the dpo key lists it (`all`: closed ones too).
    fn breaches(&self, all: bool) -> Vec<serde_json::Value> {
        let r = send(
            "GET",
            &self.url(&format!("/v1/breaches?all={all}")),
            &self.key,
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)["breaches"].as_array().unwrap().clone()
    }

    fn breach(&self, id: &str) -> serde_json::Value {
        let r = send(
            "GET",
            &self.url(&format!("/v1/breaches/{id}")),
            &self.key,
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)
    }

    /// The audit entries of `action`.
    fn audit(&self, action: &str) -> Vec<serde_json::Value> {
        let r = send(
            "GET",
            &self.url(&format!("/v1/audit?action={action}&limit=1000")),
            &self.key,
            None,
        );
        json(&r)["entries"].as_array().unwrap().clone()
    }

    /// Records a breach in the console as `cookie`'s dpo, aware at `aware`; its id.
    fn record(&self, cookie: &str, aware: Timestamp) -> String {
        let page = get(&self.url("/console/breaches?lang=en"), cookie);
        let csrf = csrf_of(&page.body, "/console/breaches");
        let r = post(
            &self.url("/console/breaches?lang=en"),
            &[
                ("csrf", &csrf),
                ("aware_at", &local(aware)),
                ("kind_confidentiality", "on"),
                (
                    "description",
                    "An export of customers' contact details was e-mailed to a wrong customer.",
                ),
                ("discovery", "The customer told us."),
            ],
            cookie,
        );
        assert_eq!(r.status, 303, "{}", r.body);
        let to = r.header("location");
        let id = to
            .strip_prefix("/console/breaches/")
            .and_then(|rest| rest.strip_suffix("?lang=en"))
            .unwrap_or_else(|| panic!("to the breach's page: {to}"));
        id.to_owned()
    }
}

#[test]
fn a_dpo_records_a_breach_sees_its_deadline_decides_and_it_closes_once_the_authority_was_told() {
    let c = start("breach_console_flow");
    let cookie = c.session(&c.dpo, 0);
    let account = format!("account:{}", c.dpo.info.account_id);
    let empty = get(&c.url("/console/breaches?lang=en"), &cookie);
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No breach is open."), "{}", empty.body);
    assert!(empty.body.contains("weekends and public holidays"));
    assert!(!empty.body.contains("<script"));

    let aware = minutes_ago(60);
    let id = c.record(&cookie, aware);
    let b = c.breach(&id);
    // Art. 33(1): 72 hours from awareness, counted in UTC; the awareness entered in Amsterdam
    // time is stored as the same instant.
    assert_eq!(b["breach"]["aware_at"]["value"], aware.to_string());
    let deadline = aware + SignedDuration::from_hours(72);
    assert_eq!(b["deadline_at"], deadline.to_string());
    assert_eq!(
        b["breach"]["aware_at"]["source"],
        serde_json::json!({ "kind": "person", "actor": account })
    );
    assert_eq!(b["breach"]["kinds"]["value"][0], "confidentiality");

    // The register and the breach's page show the deadline in words, in Amsterdam time.
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    let hhmm = deadline.to_zoned(tz).strftime("%H:%M").to_string();
    let list = get(&c.url("/console/breaches?lang=en"), &cookie);
    assert!(list.body.contains(&id), "{}", list.body);
    assert!(
        list.body.contains("70 h 59 min left") || list.body.contains("71 h 0 min left"),
        "{}",
        list.body
    );
    assert!(list.body.contains(&hhmm), "{}", list.body);
    assert!(list.body.contains("Custos proposes:"), "{}", list.body);
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("gdpr-2016"), "{}", page.body);
    assert!(page.body.contains(&format!("given by {account}")));
    assert!(page.body.contains("wrong customer"));
    assert!(page.body.contains("Not answered yet:"));
    for form in ["decide", "told", "complete", "affected"] {
        assert!(
            page.body
                .contains(&format!("action=\"/console/breaches/{id}/{form}")),
            "{form}"
        );
    }

    // Departing from the proposal needs reasons that say so: refused, nothing changed.
    let proposed = b["proposal"]["notify_authority"].as_bool().unwrap();
    let decide = csrf_of(&page.body, &format!("/console/breaches/{id}/decide"));
    let other = if proposed { "no" } else { "yes" };
    let r = post(
        &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
        &[
            ("csrf", &decide),
            ("version", "1"),
            ("notify_authority", other),
            ("notify_subjects", "no"),
            ("reasons", "no"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("departs from Custos's proposal"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Nothing was changed."));
    assert!(c.breach(&id)["decision"].is_null());

    // Completing the record is a version of its own, each changed answer the account's.
    let complete = csrf_of(&page.body, &format!("/console/breaches/{id}/complete"));
    let r = post(
        &c.url(&format!("/console/breaches/{id}/complete?lang=en")),
        &[
            ("csrf", &complete),
            ("version", "1"),
            (
                "description",
                "An export of customers' contact details was e-mailed to a wrong customer.",
            ),
            ("discovery", "The customer told us."),
            ("recipient", "mistaken"),
            ("per_subject", "1"),
            ("unintelligible", "not_encrypted"),
            ("subject_count_kind", "exact"),
            ("subject_count", "40"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let b = c.breach(&id);
    assert_eq!(b["version"], 2);
    assert_eq!(
        b["breach"]["subject_count"]["value"],
        serde_json::json!({ "kind": "exact", "n": 40 })
    );
    assert_eq!(b["breach"]["recipient"]["source"]["actor"], account);

    // A decision on the version the page showed is refused as stale.
    let r = post(
        &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
        &[
            ("csrf", &decide),
            ("version", "1"),
            ("notify_authority", "yes"),
            ("notify_subjects", "no"),
            (
                "reasons",
                "Contact details of 40 customers, to one customer: a risk, not a high one.",
            ),
        ],
        &cookie,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = post(
        &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
        &[
            ("csrf", &decide),
            ("version", "2"),
            ("notify_authority", "yes"),
            ("notify_subjects", "no"),
            (
                "reasons",
                "Contact details of 40 customers, to one customer: a risk, not a high one.",
            ),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let b = c.breach(&id);
    assert_eq!(b["decision"]["by"], account);
    assert!(b["closed_at"].is_null());

    // The authority told, with its reference: the breach closes.
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert!(page.body.contains("Decided by"), "{}", page.body);
    assert!(
        !page
            .body
            .contains(&format!("/console/breaches/{id}/decide"))
    );
    let told = csrf_of(&page.body, &format!("/console/breaches/{id}/told"));
    let r = post(
        &c.url(&format!("/console/breaches/{id}/told?lang=en")),
        &[
            ("csrf", &told),
            ("version", "3"),
            ("party", "authority"),
            ("name", "Autoriteit Persoonsgegevens"),
            ("reference", "AP-2026-17"),
            ("at", &local(minutes_ago(1))),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let b = c.breach(&id);
    assert!(b["closed_at"].is_string(), "{b}");
    assert_eq!(b["clock"]["status"]["kind"], "notified");
    assert_eq!(b["breach"]["told"][0]["reference"], "AP-2026-17");
    assert!(c.breaches(false).is_empty(), "closed");
    let list = get(&c.url("/console/breaches?lang=en"), &cookie);
    assert!(list.body.contains("No breach is open."), "{}", list.body);
    let all = get(&c.url("/console/breaches?lang=en&all=true"), &cookie);
    assert!(
        all.body.contains(&id) && all.body.contains("Closed on"),
        "{}",
        all.body
    );
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert!(page.body.contains("within the deadline"), "{}", page.body);
    assert!(page.body.contains("AP-2026-17"));
    for phase in ["Recorded", "Completed", "Decided", "Recorded who was told"] {
        assert!(page.body.contains(&format!("<td>{phase}</td>")), "{phase}");
    }

    // Every version is in the audit trail under the account.
    let recorded = c.audit("breach.recorded");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["actor"], account);
    let updated = c.audit("breach.updated");
    assert_eq!(updated.len(), 3);
    assert!(updated.iter().all(|e| e["actor"] == account));
}

#[test]
fn an_auditor_sees_the_register_but_cannot_record_or_decide() {
    let c = start("breach_console_auditor");
    let dpo = c.session(&c.dpo, 0);
    let id = c.record(&dpo, minutes_ago(30));
    let cookie = c.session(&c.auditor, 1);
    let list = get(&c.url("/console/breaches?lang=en"), &cookie);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&id));
    assert!(
        !list.body.contains("Record breach"),
        "no form for an auditor"
    );
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Custos's proposal"));
    assert!(
        !page
            .body
            .contains("<form method=\"post\" action=\"/console/breaches/")
    );
    let draft = get(
        &c.url(&format!("/console/breaches/{id}/draft?lang=nl")),
        &cookie,
    );
    assert_eq!(
        draft.status, 200,
        "auditors read the drafts: {}",
        draft.body
    );

    // Even with the tokens its session would hold, the role says no; nothing changes.
    let r = post(
        &c.url("/console/breaches?lang=en"),
        &[
            ("csrf", &token_for(&cookie, "breach-record")),
            ("aware_at", &local(minutes_ago(5))),
            ("kind_integrity", "on"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Your account's role may not do this."));
    let r = post(
        &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
        &[
            ("csrf", &token_for(&cookie, &format!("breach-decide:{id}"))),
            ("version", "1"),
            ("notify_authority", "yes"),
            ("notify_subjects", "no"),
            (
                "reasons",
                "Contact details only, to one customer: a risk, not a high one.",
            ),
        ],
        &cookie,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = post(
        &c.url(&format!("/console/breaches/{id}/affected?lang=en")),
        &[
            (
                "csrf",
                &token_for(&cookie, &format!("breach-affected:{id}")),
            ),
            ("category", "account"),
            ("from", &local(minutes_ago(600))),
            ("to", &local(minutes_ago(0))),
        ],
        &cookie,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let listed = c.breaches(true);
    assert_eq!(listed.len(), 1, "nothing recorded");
    assert_eq!(listed[0]["version"], 1, "nothing decided");
    assert!(c.audit("breach.affected_queried").is_empty());
}

#[test]
fn a_forged_form_token_changes_nothing() {
    let c = start("breach_console_csrf");
    let cookie = c.session(&c.dpo, 0);
    let other = c.session(&c.dpo, 1);
    let id = c.record(&cookie, minutes_ago(30));
    let theirs = token_for(&other, "breach-record");
    for forged in ["", "00", &"ab".repeat(32), &theirs] {
        let r = post(
            &c.url("/console/breaches?lang=en"),
            &[
                ("csrf", forged),
                ("aware_at", &local(minutes_ago(5))),
                ("kind_integrity", "on"),
            ],
            &cookie,
        );
        assert_eq!(r.status, 403, "{forged:?}: {}", r.body);
        assert!(r.body.contains("nothing was changed"), "{}", r.body);
    }
    // The record form's token does not decide, nor does another breach's decide token.
    let record = token_for(&cookie, "breach-record");
    let elsewhere = token_for(&cookie, &format!("breach-decide:{}", "0".repeat(32)));
    for forged in [record.as_str(), elsewhere.as_str()] {
        let r = post(
            &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
            &[
                ("csrf", forged),
                ("version", "1"),
                ("notify_authority", "yes"),
                ("notify_subjects", "no"),
                (
                    "reasons",
                    "Contact details only, to one customer: a risk, not a high one.",
                ),
            ],
            &cookie,
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let listed = c.breaches(true);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["version"], 1);
}

#[test]
fn an_awareness_time_in_the_future_is_refused_with_the_field_named_in_both_languages() {
    let c = start("breach_console_future");
    let cookie = c.session(&c.dpo, 0);
    let page = get(&c.url("/console/breaches?lang=nl"), &cookie);
    assert!(page.body.contains("<html lang=\"nl\">"));
    assert!(
        page.body.contains("Register van datalekken"),
        "{}",
        page.body
    );
    let csrf = csrf_of(&page.body, "/console/breaches");
    let later = local(Timestamp::now() + SignedDuration::from_hours(2));
    let r = post(
        &c.url("/console/breaches?lang=nl"),
        &[
            ("csrf", &csrf),
            ("aware_at", &later),
            ("kind_confidentiality", "on"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("<strong>Bekend sinds</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Ligt in de toekomst"), "{}", r.body);
    assert!(r.body.contains("Er is niets gewijzigd."));
    let r = post(
        &c.url("/console/breaches?lang=en"),
        &[
            ("csrf", &csrf),
            ("aware_at", &later),
            ("kind_confidentiality", "on"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("<strong>Aware since</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Lies in the future"));
    // No kind, or no time, is refused the same way.
    let r = post(
        &c.url("/console/breaches?lang=en"),
        &[("csrf", &csrf), ("aware_at", &local(minutes_ago(5)))],
        &cookie,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("<strong>Kind of breach</strong>"),
        "{}",
        r.body
    );
    let r = post(
        &c.url("/console/breaches?lang=en"),
        &[
            ("csrf", &csrf),
            ("aware_at", ""),
            ("kind_availability", "on"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(c.breaches(true).is_empty(), "nothing was recorded");
    assert!(c.audit("breach.recorded").is_empty());
}

#[test]
fn another_tenants_breach_does_not_exist() {
    let c = start("breach_console_tenants");
    let aware = minutes_ago(30);
    let r = send(
        "POST",
        &c.url("/v1/breaches"),
        &c.globex_key,
        Some(serde_json::json!({
            "notification": { "kind": "new" },
            "aware_at": { "value": aware.to_string(), "source": { "kind": "person", "actor": "dpo" } },
            "kinds": { "value": ["confidentiality"], "source": { "kind": "person", "actor": "dpo" } },
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let theirs = json(&r)["breach_id"].as_str().unwrap().to_owned();
    let cookie = c.session(&c.dpo, 0);
    let list = get(&c.url("/console/breaches?lang=en&all=true"), &cookie);
    assert!(!list.body.contains(&theirs));
    for path in [
        format!("/console/breaches/{theirs}?lang=en"),
        format!("/console/breaches/{theirs}/draft?lang=en"),
        "/console/breaches/not-an-id?lang=en".to_owned(),
    ] {
        let r = get(&c.url(&path), &cookie);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    for (what, form) in [
        (
            "decide",
            vec![
                ("version", "1"),
                ("notify_authority", "yes"),
                ("notify_subjects", "no"),
                ("reasons", "Contact details only, to one customer: a risk."),
            ],
        ),
        (
            "told",
            vec![
                ("version", "1"),
                ("party", "subjects"),
                ("at", "2026-01-01T10:00"),
            ],
        ),
    ] {
        let csrf = token_for(&cookie, &format!("breach-{what}:{theirs}"));
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let r = post(
            &c.url(&format!("/console/breaches/{theirs}/{what}?lang=en")),
            &fields,
            &cookie,
        );
        assert_eq!(r.status, 404, "{what}: {}", r.body);
    }
    let r = send(
        "GET",
        &c.url(&format!("/v1/breaches/{theirs}")),
        &c.globex_key,
        None,
    );
    assert_eq!(json(&r)["version"], 1, "unchanged");
}

#[test]
fn the_drafts_and_the_affected_counts_are_in_the_pages_language() {
    let c = start("breach_console_drafts");
    let cookie = c.session(&c.dpo, 0);
    let id = c.record(&cookie, minutes_ago(90));
    let nl = get(
        &c.url(&format!("/console/breaches/{id}/draft?lang=nl")),
        &cookie,
    );
    assert_eq!(nl.status, 200, "{}", nl.body);
    assert!(nl.body.contains("<html lang=\"nl\">"));
    assert!(
        nl.body
            .contains("Melding aan de Autoriteit Persoonsgegevens")
    );
    assert!(
        nl.body.contains("Nog te beantwoorden voor verzending"),
        "{}",
        nl.body
    );
    assert!(nl.body.contains("Brief aan de betrokkenen"));
    assert!(nl.body.contains("wrong customer"), "the record's own text");
    let en = get(
        &c.url(&format!("/console/breaches/{id}/draft?lang=en")),
        &cookie,
    );
    assert_eq!(en.status, 200, "{}", en.body);
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Still to answer before sending"));
    assert!(en.body.contains("Letter to the people affected"));
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=nl")), &cookie);
    assert!(page.body.contains("Bekend sinds") && page.body.contains("Voorstel van Custos"));

    // The affected query: counts only, and in the audit trail under the account.
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    let csrf = csrf_of(&page.body, &format!("/console/breaches/{id}/affected"));
    let bad = post(
        &c.url(&format!("/console/breaches/{id}/affected?lang=en")),
        &[
            ("csrf", &csrf),
            ("from", &local(minutes_ago(600))),
            ("to", &local(minutes_ago(0))),
        ],
        &cookie,
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("Choose at least one category."));
    let r = post(
        &c.url(&format!("/console/breaches/{id}/affected?lang=en")),
        &[
            ("csrf", &csrf),
            ("category", "account"),
            ("category", "support"),
            ("from", &local(minutes_ago(600))),
            ("to", &local(minutes_ago(0))),
        ],
        &cookie,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Who may have been affected"), "{}", r.body);
    assert!(r.body.contains("Counts only"));
    let queried = c.audit("breach.affected_queried");
    assert_eq!(queried.len(), 1);
    assert_eq!(
        queried[0]["actor"],
        format!("account:{}", c.dpo.info.account_id)
    );
}

/// Art. 34(1): the letters form appears only once a person decided the people are told; the
/// letter is queued to the addresses typed, listed on the page with its deliveries, and no
/// address is shown again.
#[test]
fn letters_to_the_people_affected_are_sent_from_the_breach_page_once_decided() {
    let c = start("breach_console_letters");
    let cookie = c.session(&c.dpo, 0);
    let id = c.record(&cookie, minutes_ago(90));
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert!(
        page.body.contains("No letter was sent about this breach."),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains(&format!("/console/breaches/{id}/letters")),
        "no form before the decision"
    );
    let decide = csrf_of(&page.body, &format!("/console/breaches/{id}/decide"));
    let r = post(
        &c.url(&format!("/console/breaches/{id}/decide?lang=en")),
        &[
            ("csrf", &decide),
            ("version", "1"),
            ("notify_authority", "yes"),
            ("notify_subjects", "yes"),
            (
                "reasons",
                "Contact details to a stranger: we tell the customers so they can watch for phishing.",
            ),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    let csrf = csrf_of(&page.body, &format!("/console/breaches/{id}/letters"));
    let bad = post(
        &c.url(&format!("/console/breaches/{id}/letters?lang=en")),
        &[
            ("csrf", &csrf),
            ("addresses", "ann@example.test\nnot an address"),
            ("letter_lang", "nl"),
        ],
        &cookie,
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        !bad.body.contains("not an address"),
        "the input is not repeated"
    );
    let r = post(
        &c.url(&format!("/console/breaches/{id}/letters?lang=en")),
        &[
            ("csrf", &csrf),
            ("addresses", "ann@example.test\n\nbob@example.test\n"),
            ("letter_lang", "nl"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get(&c.url(&format!("/console/breaches/{id}?lang=en")), &cookie);
    assert!(
        page.body.contains("To the people affected"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("0 delivered, 2 pending"),
        "no mailer in this test: pending, not lost: {}",
        page.body
    );
    assert!(
        page.body.contains("lang=\"nl\""),
        "the letter's own language marked"
    );
    assert!(
        !page.body.contains("example.test"),
        "no address shown again"
    );
    let queued = c.audit("breach.letters_queued");
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0]["actor"],
        format!("account:{}", c.dpo.info.account_id)
    );
}
