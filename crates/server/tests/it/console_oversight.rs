//! The console's retention, audit and policy pages over HTTP (issue 20): a real server on a real
//! SQLite vault, accounts signed in with password and TOTP. An auditor reads but places no hold;
//! a dpo places and releases one, both in the audit trail under the account; a forged form token
//! changes nothing; the audit trail pages newest first in Dutch and English and verifies; the
//! policy page compares two published versions and flags a material change with its notice.

use custos_access::Role;
use custos_access::account::NewAccount;
use jiff::Timestamp;

use crate::Running;
use crate::console::{csrf_of, token_for};
use crate::console::{get_in as get, post_in as post};
use crate::data::{json, send, sqlite_config};

/// The server, tenant `acme` with a dpo and an auditor account and a dpo API key.
struct Oversight {
    server: Running,
    dpo: NewAccount,
    auditor: NewAccount,
    key: String,
    /// The key that verifies the trail's checkpoints.
    public_key: String,
}

/// A server for `config` with `master` and `policy` (checkpoints every second), and its accounts
/// (made once: `accounts` from an earlier start of the same database).
fn start(
    config: &custos_server::Config,
    master: &custos_vault::MasterKey,
    policy: String,
    accounts: Option<(NewAccount, NewAccount, String)>,
) -> Oversight {
    let backend = custos_server::Backend::open(config, master.clone()).expect("the backend opens");
    let public_key = hex::encode(backend.vault().audit_public_key().to_bytes());
    let (dpo, auditor, key) = accounts.unwrap_or_else(|| {
        let now = Timestamp::now();
        let mut a = backend.access.lock().unwrap();
        a.create_tenant("acme", "acme", now).unwrap();
        let key = a
            .issue_key(Some("acme"), Role::Dpo, "dpo", now)
            .unwrap()
            .key;
        let dpo = a
            .add_account(Some("acme"), Role::Dpo, "oversight dpo", now)
            .unwrap();
        let auditor = a
            .add_account(Some("acme"), Role::Auditor, "oversight auditor", now)
            .unwrap();
        (dpo, auditor, key)
    });
    let mut config = config.clone();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.audit_checkpoint_seconds = 1;
    let server = Running::serve(config, &policy, Some(backend));
    Oversight {
        server,
        dpo,
        auditor,
        key,
        public_key,
    }
}

fn start_new(name: &str) -> Oversight {
    let master = custos_vault::MasterKey::generate().unwrap();
    start(
        &sqlite_config(name),
        &master,
        crate::JBSYNC.to_owned(),
        None,
    )
}

impl Oversight {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Signs in as `who` with the code `steps` steps from now (each code signs in once); the
    /// session cookie.
    fn session(&self, who: &NewAccount, steps: i64) -> String {
        crate::console::session_on(&self.server, who, steps)
    }

    /// The tenant's active legal holds, as the API lists them.
    fn holds(&self) -> Vec<serde_json::Value> {
        let r = send("GET", &self.url("/v1/holds"), &self.key, None);
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)["holds"].as_array().unwrap().clone()
    }

    /// The audit entries of `action`, as the dpo key reads them.
    fn audit(&self, action: &str) -> Vec<serde_json::Value> {
        let r = send(
            "GET",
            &self.url(&format!("/v1/audit?action={action}&limit=1000")),
            &self.key,
            None,
        );
        json(&r)["entries"].as_array().unwrap().clone()
    }
}

/// The first stored category of the test policy, as the hold form offers it.
fn a_category(body: &str) -> String {
    let at = body.find("value=\"category:").expect("a category to hold") + 7;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

#[test]
fn an_auditor_sees_the_retention_page_but_cannot_place_a_hold() {
    let c = start_new("oversight_auditor");
    let cookie = c.session(&c.auditor, 0);
    let r = get(&c.url("/console/retention?lang=en"), &cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Retention and legal holds"), "{}", r.body);
    assert!(r.body.contains("Art. 5(1)(e)") && r.body.contains("Art. 17(3)(e)"));
    assert!(r.body.contains("No legal hold is in place."));
    assert!(!r.body.contains("Place hold"), "no form for an auditor");
    assert!(!r.body.contains("<script"));
    let nl = get(&c.url("/console/retention?lang=nl"), &cookie);
    assert!(
        nl.body.contains("<html lang=\"nl\">") && nl.body.contains("art. 17 lid 3 onder e AVG")
    );
    let dry = get(&c.url("/console/retention/dry-run?lang=en"), &cookie);
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert!(
        dry.body.contains("nothing has been removed"),
        "{}",
        dry.body
    );

    // Even with the token its session would hold, the role says no; nothing is placed.
    let r = post(
        &c.url("/console/retention/holds?lang=en"),
        &[
            ("csrf", &token_for(&cookie, "hold")),
            ("covers", "tenant"),
            ("reason", "claim 2026-17"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("Your account's role may not do this."),
        "{}",
        r.body
    );
    assert!(c.holds().is_empty(), "nothing was placed");
    assert!(c.audit("retention.hold.placed").is_empty());
}

#[test]
fn a_dpo_places_and_releases_a_hold_and_both_are_in_the_audit_trail_under_the_account() {
    let c = start_new("oversight_hold");
    let cookie = c.session(&c.dpo, 0);
    let account = format!("account:{}", c.dpo.info.account_id);
    let r = get(&c.url("/console/retention?lang=en"), &cookie);
    assert!(r.body.contains("Place hold"), "{}", r.body);
    let category = a_category(&r.body);
    let csrf = csrf_of(&r.body, "/console/retention/holds");

    // Bad input is a clear page in the visitor's language, and changes nothing.
    let bad = post(
        &c.url("/console/retention/holds?lang=nl"),
        &[("csrf", &csrf), ("covers", &category), ("reason", "  ")],
        &cookie,
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("Er is niets gewijzigd."), "{}", bad.body);
    let bad = post(
        &c.url("/console/retention/holds?lang=en"),
        &[
            ("csrf", &csrf),
            ("covers", "subject"),
            ("reason", "claim 1"),
        ],
        &cookie,
    );
    assert_eq!(bad.status, 422, "a hold on one person names the person");
    assert!(c.holds().is_empty());

    let r = post(
        &c.url("/console/retention/holds?lang=en"),
        &[
            ("csrf", &csrf),
            ("covers", &category),
            ("reason", "claim 2026-17"),
        ],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), "/console/retention?lang=en");
    let holds = c.holds();
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0]["set_by"], account);
    let id = holds[0]["hold_id"].as_str().unwrap().to_owned();
    let r = get(&c.url("/console/retention?lang=en"), &cookie);
    assert!(
        r.body.contains("claim 2026-17") && r.body.contains(&id),
        "{}",
        r.body
    );

    let release = csrf_of(&r.body, &format!("/console/retention/holds/{id}/release"));
    let r = post(
        &c.url(&format!("/console/retention/holds/{id}/release?lang=en")),
        &[("csrf", &release)],
        &cookie,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(c.holds().is_empty(), "released");
    let again = post(
        &c.url(&format!("/console/retention/holds/{id}/release?lang=en")),
        &[("csrf", &release)],
        &cookie,
    );
    assert_eq!(again.status, 404, "released once: {}", again.body);

    for action in ["retention.hold.placed", "retention.hold.released"] {
        let entries = c.audit(action);
        assert_eq!(entries.len(), 1, "{action}: {entries:?}");
        assert_eq!(entries[0]["actor"], account, "{action}");
    }
    // And the console's own audit page shows them, the newest first.
    let trail = get(&c.url("/console/audit?lang=en"), &cookie);
    let released = trail.body.find("retention.hold.released").expect("listed");
    let placed = trail.body.find("retention.hold.placed").expect("listed");
    assert!(released < placed, "newest first");
    assert!(trail.body.contains(&account));
}

#[test]
fn a_forged_form_token_places_releases_and_verifies_nothing() {
    let c = start_new("oversight_csrf");
    let cookie = c.session(&c.dpo, 0);
    let other = c.session(&c.dpo, 1);
    let theirs = token_for(&other, "hold");
    for forged in ["", "00", &"ab".repeat(32), &theirs] {
        let r = post(
            &c.url("/console/retention/holds?lang=en"),
            &[
                ("csrf", forged),
                ("covers", "tenant"),
                ("reason", "claim 9"),
            ],
            &cookie,
        );
        assert_eq!(r.status, 403, "{forged:?}: {}", r.body);
        assert!(r.body.contains("nothing was changed"), "{}", r.body);
    }
    assert!(c.holds().is_empty());
    let r = get(&c.url("/console/retention?lang=en"), &cookie);
    let csrf = csrf_of(&r.body, "/console/retention/holds");
    let placed = post(
        &c.url("/console/retention/holds?lang=en"),
        &[("csrf", &csrf), ("covers", "tenant"), ("reason", "claim 9")],
        &cookie,
    );
    assert_eq!(placed.status, 303);
    let id = c.holds()[0]["hold_id"].as_str().unwrap().to_owned();
    // The place form's token does not release, nor does another hold's.
    for forged in [
        csrf.clone(),
        token_for(&cookie, "release:hold_0000000000000000"),
    ] {
        let r = post(
            &c.url(&format!("/console/retention/holds/{id}/release?lang=en")),
            &[("csrf", &forged)],
            &cookie,
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(c.holds().len(), 1, "still in place");
    let r = post(
        &c.url("/console/audit/verify?lang=en"),
        &[("csrf", "00")],
        &cookie,
    );
    assert_eq!(r.status, 403);
    assert!(c.audit("console.audit.verify").is_empty());
}

#[test]
fn the_audit_trail_pages_newest_first_in_both_languages_and_verifies_intact() {
    let c = start_new("oversight_audit");
    // More than a page of entries: each request filed is one.
    for i in 0..55 {
        let r = send(
            "POST",
            &c.url("/v1/requests"),
            &c.key,
            Some(serde_json::json!({ "kind": "access", "subject": format!("p{i}@example.nl") })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let cookie = c.session(&c.auditor, 0);
    let first = get(&c.url("/console/audit?lang=en"), &cookie);
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("Page 1 of 2"), "{}", first.body);
    assert_eq!(first.body.matches("<tr><td>").count(), 50, "50 a page");
    assert!(!first.body.contains("@example.nl"), "no personal data");
    let seqs = |body: &str| -> Vec<u64> {
        body.split("<tr><td>")
            .skip(1)
            .map(|r| r[..r.find('<').unwrap()].parse().unwrap())
            .collect()
    };
    let s1 = seqs(&first.body);
    assert!(s1.windows(2).all(|w| w[0] > w[1]), "newest first: {s1:?}");
    assert!(first.body.contains("/console/audit?lang=en&page=2"));
    let second = get(&c.url("/console/audit?lang=en&page=2"), &cookie);
    let s2 = seqs(&second.body);
    assert!(!s2.is_empty() && s2[0] < *s1.last().unwrap(), "{s2:?}");
    let nl = get(&c.url("/console/audit?lang=nl&page=2"), &cookie);
    assert!(
        nl.body.contains("<html lang=\"nl\">") && nl.body.contains("Pagina 2 van 2"),
        "{}",
        nl.body
    );
    assert_eq!(seqs(&nl.body), s2, "the same page in Dutch");
    let bad = get(&c.url("/console/audit?lang=en&page=zero"), &cookie);
    assert_eq!(bad.status, 400);

    // The server signs a checkpoint every second: wait until one covers the last entry.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let csrf = csrf_of(&first.body, "/console/audit/verify");
    let r = post(
        &c.url("/console/audit/verify?lang=en"),
        &[("csrf", &csrf)],
        &cookie,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("The chain is intact and sealed"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Ed25519 signature is valid"));
    assert!(r.body.contains(&c.public_key), "the published key");
    let r = post(
        &c.url("/console/audit/verify?lang=nl"),
        &[("csrf", &csrf)],
        &cookie,
    );
    assert!(r.body.contains("De keten is intact"), "{}", r.body);
    let verified = c.audit("console.audit.verify");
    assert_eq!(verified.len(), 2);
    assert_eq!(
        verified[0]["actor"],
        format!("account:{}", c.auditor.info.account_id)
    );
}

#[test]
fn the_policy_page_compares_two_versions_and_flags_a_material_change_with_its_notice_period() {
    let config = sqlite_config("oversight_policy");
    let master = custos_vault::MasterKey::generate().unwrap();
    let c = start(&config, &master, crate::JBSYNC.to_owned(), None);
    let cookie = c.session(&c.dpo, 0);
    let r = get(&c.url("/console/policy?lang=en"), &cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("href=\"/privacy?lang=en\""), "{}", r.body);
    assert!(
        r.body
            .contains(&custos_vault::policy_fingerprint(crate::JBSYNC))
    );
    assert!(r.body.contains("Only one version of the policy is known"));
    let accounts = (c.dpo, c.auditor, c.key);
    drop(c.server);

    // The server starts again with version 2.1, which adds a sub-processor.
    let changed = crate::JBSYNC.replace("version = \"2.0\"", "version = \"2.1\"")
        + "\n[[recipient]]\nid = \"mailer\"\nname = \"Mailer B.V.\"\nkind = \"sub_processor\"\nlocations = [\"NL\"]\n";
    let c = start(&config, &master, changed, Some(accounts));
    let cookie = c.session(&c.dpo, 1);
    let r = get(&c.url("/console/policy?lang=en"), &cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("2.0, first published") && r.body.contains("2.1, first published"));
    assert!(
        r.body.contains("<strong class=\"flag\">Material</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("mailer") && r.body.contains("New sub-processor"));
    assert!(
        r.body
            .contains("announce at least 30 days before the change applies"),
        "{}",
        r.body
    );
    let nl = get(&c.url("/console/policy?lang=nl"), &cookie);
    assert!(
        nl.body.contains("Wezenlijk") && nl.body.contains("kondig minstens 30 dagen"),
        "{}",
        nl.body
    );
    assert!(nl.body.contains("href=\"/privacy?lang=nl\""));

    // Chosen the other way round, and a version that was never published.
    let old = custos_vault::policy_fingerprint(crate::JBSYNC);
    let same = get(
        &c.url(&format!("/console/policy?lang=en&old={old}&new={old}")),
        &cookie,
    );
    assert!(same.body.contains("No changes."), "{}", same.body);
    let unknown = get(
        &c.url(&format!("/console/policy?lang=en&old={}", "0".repeat(64))),
        &cookie,
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}
