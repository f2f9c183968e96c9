//! Announcements over HTTP with the seeds' own promises (issue 21): JBSync adds a US
//! sub-processor with 30 days' notice (statement §7; Art. 28(2) GDPR, SCC 2021/915 clause
//! 7.7(a)): the announcement, the e-mail to the tenant's contact, the Atom and JSON feeds, the
//! decision call and the disclosure refused before the effective date and allowed after, a
//! tenant's objection holding for that tenant only. Jet-Stream publishes a statement customers
//! accept at their next login. Bad input: an objection after the effective date, an unknown
//! announcement, a mail server that is down (retried, on record).
//!
//! A server run is one publication: the first run with JBSync 2.0, the next with 2.1. To stand
//! after the effective date, a test records the versions (and the announcement) in the vault
//! directly at times in the past, as earlier runs would have.

use std::time::{Duration, Instant};

use custos_server::Config;
use custos_vault::{MasterKey, TenantId, Vault};
use serde_json::{Value, json};

use crate::data::{Setup, admin_key, json as body, send, sqlite_config, tenant};
use crate::{JBSYNC, Running, get};

const ASSEMBLY: &str = "[[recipient]]\nid = \"assemblyai\"\nname = \"AssemblyAI Inc.\"\nkind = \"sub_processor\"\npurpose.nl = \"Spraaktranscriptie\"\npurpose.en = \"Speech-to-text\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n\n";
const CONTACT: &str = "privacy@acme.example";
const WAIT: Duration = Duration::from_secs(15);

/// JBSync 2.1: 2.0 with a sub-processor in the US.
fn jbsync_21() -> String {
    JBSYNC
        .replace("version = \"2.0\"", "version = \"2.1\"")
        .replacen("[[recipient]]\n", &format!("{ASSEMBLY}[[recipient]]\n"), 1)
}

/// One database, served by one run after another, each with its own policy text.
struct Site {
    config: Config,
    master: MasterKey,
    admin: String,
}

impl Site {
    fn new(name: &str, adjust: impl Fn(&mut Config)) -> Site {
        let mut config = sqlite_config(&format!("ann-{name}"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.max_body_bytes = 4096;
        config.purge_interval = None;
        config.notify_interval = Some(Duration::from_millis(150));
        let outbox = std::path::Path::new(&config.database)
            .parent()
            .unwrap()
            .join("outbox");
        config.mail_outbox = Some(outbox);
        adjust(&mut config);
        let master = MasterKey::generate().unwrap();
        let admin = admin_key(
            &custos_server::Backend::open(&config, master.clone()).expect("the backend opens"),
        );
        Site {
            config,
            master,
            admin,
        }
    }

    /// The server on `policy` (a publication of it).
    fn run(&self, policy: &str) -> Setup {
        let backend = custos_server::Backend::open(&self.config, self.master.clone()).unwrap();
        Setup {
            server: Running::serve(self.config.clone(), policy, Some(backend)),
            admin: self.admin.clone(),
        }
    }

    /// A vault handle of the test's own on the same database.
    fn vault(&self) -> Vault {
        Vault::open(
            &custos_server::backend::store_config(&self.config),
            self.master.clone(),
        )
        .unwrap()
    }

    fn outbox(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.config.mail_outbox.as_ref().unwrap()) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }
}

fn ask(s: &Setup, key: &str, recipient: &str) -> Value {
    let r = send(
        "POST",
        &s.server.url("/v1/decisions"),
        key,
        Some(
            json!({ "subject": "jan@example.nl", "purpose": "support", "category": "support", "recipient": recipient }),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    body(&r)
}

fn disclose(s: &Setup, key: &str, recipient: &str) -> crate::Reply {
    send(
        "POST",
        &s.server.url("/v1/disclosures"),
        key,
        Some(
            json!({ "subject": "jan@example.nl", "recipient": recipient, "categories": ["support"] }),
        ),
    )
}

fn rules(d: &Value) -> Vec<String> {
    d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["effect"] == "deny")
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

fn announcements(s: &Setup, dpo: &str) -> Value {
    let r = send("GET", &s.server.url("/v1/announcements"), dpo, None);
    assert_eq!(r.status, 200, "{}", r.body);
    body(&r)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn jbsync_announces_a_us_sub_processor_mails_the_contact_feeds_it_and_refuses_it_in_the_notice_period()
 {
    let site = Site::new("jbsync", |_| {});
    let (app, dpo) = {
        let s = site.run(JBSYNC);
        let (app, dpo, _) = tenant(&s, "acme");
        let r = send(
            "PUT",
            &s.server.url("/v1/announcements/contacts"),
            &dpo,
            Some(json!({ "addresses": [CONTACT] })),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(body(&r)["addresses"], json!([CONTACT]));
        // The first publication has nothing before it to announce.
        assert_eq!(
            body(&get(&s.server.url("/announcements.json")))["items"],
            json!([])
        );
        (app, dpo)
    };
    let s = site.run(&jbsync_21());

    // The feeds: public, newest first, with what changed and both dates.
    let feed = body(&get(&s.server.url("/announcements.json")));
    let item = &feed["items"][0];
    let ext = &item["_custos"];
    assert_eq!(ext["new_recipients"], json!(["assemblyai"]));
    assert_eq!(ext["notice"], "P30D");
    let published: jiff::Timestamp = ext["published_at"].as_str().unwrap().parse().unwrap();
    let effective: jiff::Timestamp = ext["effective_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        effective,
        published
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(jiff::Span::new().days(30))
            .unwrap()
            .timestamp()
    );
    assert!(
        item["content_text"]
            .as_str()
            .unwrap()
            .contains("recipient `assemblyai` added, outside the EEA: US"),
        "{item}"
    );
    let atom = get(&s.server.url("/announcements.atom"));
    assert_eq!(atom.status, 200);
    assert!(atom.content_type.starts_with("application/atom+xml"));
    assert!(atom.body.contains("<entry>"), "{}", atom.body);
    assert!(
        atom.body
            .contains(&format!("<published>{published}</published>"))
    );
    assert!(atom.body.contains("assemblyai"));
    assert!(
        !atom.body.contains(CONTACT),
        "the feed holds nothing personal"
    );

    // The e-mail to acme's contact, in the outbox.
    wait_for("the announcement e-mail", || {
        site.outbox().iter().any(|m| m.contains(CONTACT))
    });
    let mail = site
        .outbox()
        .into_iter()
        .find(|m| m.contains(CONTACT))
        .unwrap();
    assert!(mail.contains("recipient `assemblyai` added"), "{mail}");
    assert!(mail.contains(&effective.strftime("%Y-%m-%d").to_string()));
    wait_for("the delivery record", || {
        announcements(&s, &dpo)["announcements"][0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["channel"] == "email" && d["state"] == "delivered")
    });
    let listed = announcements(&s, &dpo);
    assert_eq!(listed["announcements"][0]["state"], "in_notice");
    assert_eq!(listed["settings"]["contacts"], json!([CONTACT]));

    // Refused in the notice period, with the reason; a sub-processor published before is not.
    let d = ask(&s, &app, "assemblyai");
    assert_eq!(d["allowed"], false);
    assert_eq!(rules(&d), ["recipient.in_notice"]);
    let why = d["reasons"][0]["detail"].as_str().unwrap();
    assert!(why.contains(&effective.to_string()), "{why}");
    assert_eq!(ask(&s, &app, "anthropic")["allowed"], true);
    assert_eq!(rules(&ask(&s, &app, "nobody")), ["recipient.undefined"]);
    let r = disclose(&s, &app, "assemblyai");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(crate::problem(&r)["code"], "recipient-in-notice");
    assert_eq!(disclose(&s, &app, "anthropic").status, 201);

    // The announcement's work is audited in acme's trail, without the address.
    let trail = send("GET", &s.server.url("/v1/audit?limit=200"), &dpo, None);
    assert!(
        trail.body.contains("announcements.queued"),
        "{}",
        trail.body
    );
    assert!(!trail.body.contains(CONTACT));
}

#[test]
fn after_the_effective_date_the_recipient_is_allowed_except_for_a_tenant_that_objected_in_time() {
    let site = Site::new("after", |_| {});
    let days_ago = |d: i64| jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * d);
    // 2.0 was first published 60 days ago.
    site.vault()
        .record_policy_version(Some("2.0"), JBSYNC, days_ago(60))
        .unwrap();
    let (acme, globex) = {
        let s = site.run(JBSYNC);
        let acme = tenant(&s, "acme");
        let globex = tenant(&s, "globex");
        for dpo in [&acme.1, &globex.1] {
            let r = send(
                "PUT",
                &s.server.url("/v1/announcements/contacts"),
                dpo,
                Some(json!({ "addresses": [] })),
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        (acme, globex)
    };
    // 2.1 was published 40 days ago, and globex objected 30 days ago, within the notice.
    let new = jbsync_21();
    let id = {
        let mut v = site.vault();
        let p = custos_policy::load_source(custos_policy::SourceFile::new("n.toml", new.as_str()))
            .unwrap()
            .policy;
        v.record_policy_version(Some("2.1"), &new, days_ago(40))
            .unwrap();
        let a = v
            .announce_published(&p, &new, days_ago(40))
            .unwrap()
            .unwrap();
        v.tenant(&TenantId::new("globex").unwrap())
            .object_to_announcement(
                &a.announcement_id,
                "processing outside the EEA",
                days_ago(30),
            )
            .unwrap();
        a.announcement_id
    };
    let s = site.run(&new);
    let d = ask(&s, &acme.0, "assemblyai");
    assert_eq!(d["allowed"], true, "{d}");
    assert_eq!(disclose(&s, &acme.0, "assemblyai").status, 201);
    let d = ask(&s, &globex.0, "assemblyai");
    assert_eq!(rules(&d), ["recipient.objected"]);
    let r = disclose(&s, &globex.0, "assemblyai");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(crate::problem(&r)["code"], "recipient-objected");
    let listed = announcements(&s, &globex.1);
    assert_eq!(listed["announcements"][0]["state"], "in_effect");
    assert_eq!(listed["announcements"][0]["objection"]["state"], "open");

    // acme objects now: too late, with its own code; an unknown announcement is 404.
    let url = format!("/v1/announcements/{id}/objections");
    let r = send(
        "POST",
        &s.server.url(&url),
        &acme.1,
        Some(json!({ "reason": "late" })),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(crate::problem(&r)["code"], "objection-closed");
    let r = send(
        "POST",
        &s.server
            .url("/v1/announcements/ann_00000000000000000000/objections"),
        &acme.1,
        Some(json!({ "reason": "x" })),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(crate::problem(&r)["code"], "announcement-not-found");
    let r = send(
        "POST",
        &s.server.url("/v1/announcements/not-an-id/objections"),
        &acme.1,
        Some(json!({ "reason": "x" })),
    );
    // What no announcement's id can be is no announcement, as a well-formed unknown one is.
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(crate::problem(&r)["code"], "announcement-not-found");
    // An app key may not object.
    let r = send(
        "POST",
        &s.server.url(&url),
        &acme.0,
        Some(json!({ "reason": "x" })),
    );
    assert_eq!(r.status, 403, "{}", r.body);

    // globex withdraws its objection: the recipient is allowed for it too.
    let r = send("DELETE", &s.server.url(&url), &globex.1, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ask(&s, &globex.0, "assemblyai")["allowed"], true);
}

#[test]
fn an_objection_in_the_notice_period_is_recorded_for_that_tenant_and_audited_without_its_text() {
    let site = Site::new("object", |_| {});
    let (acme, globex) = {
        let s = site.run(JBSYNC);
        (tenant(&s, "acme"), tenant(&s, "globex"))
    };
    let s = site.run(&jbsync_21());
    let feed = body(&get(&s.server.url("/announcements.json")));
    let id = feed["items"][0]["_custos"]["announcement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("/v1/announcements/{id}/objections");
    let reason = "Wij verwerken alleen binnen de EER";
    let r = send(
        "POST",
        &s.server.url(&url),
        &acme.1,
        Some(json!({ "reason": reason })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(body(&r)["objection"]["state"], "open");
    let again = send(
        "POST",
        &s.server.url(&url),
        &acme.1,
        Some(json!({ "reason": reason })),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let r = send(
        "POST",
        &s.server.url(&url),
        &acme.1,
        Some(json!({ "reason": " " })),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        rules(&ask(&s, &acme.0, "assemblyai")),
        ["recipient.objected"]
    );
    assert_eq!(
        rules(&ask(&s, &globex.0, "assemblyai")),
        ["recipient.in_notice"],
        "globex did not object: only the notice holds it back"
    );
    assert!(
        announcements(&s, &globex.1)["announcements"][0]["objection"].is_null(),
        "one tenant never sees another's objection"
    );
    let trail = send(
        "GET",
        &s.server
            .url("/v1/audit?action=announcements.objection&limit=10"),
        &acme.1,
        None,
    );
    assert!(trail.body.contains(&id), "{}", trail.body);
    assert!(!trail.body.contains("EER"), "{}", trail.body);
}

#[test]
fn a_mail_server_that_is_down_leaves_the_email_pending_with_its_error_on_record() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = Site::new("smtp-down", |c| {
        c.mail_outbox = None;
        c.smtp = Some(custos_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            from: "Privacy desk <privacy@jbsync.example>".into(),
            tls: custos_server::config::SmtpTls::None,
            username: None,
            password_file: None,
            timeout: Duration::from_secs(2),
        });
    });
    let dpo = {
        let s = site.run(JBSYNC);
        let (_, dpo, _) = tenant(&s, "acme");
        let r = send(
            "PUT",
            &s.server.url("/v1/announcements/contacts"),
            &dpo,
            Some(json!({ "addresses": [CONTACT] })),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        dpo
    };
    let s = site.run(&jbsync_21());
    wait_for("a failed attempt on record", || {
        announcements(&s, &dpo)["announcements"][0]["deliveries"][0]["attempts"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    });
    let d = &announcements(&s, &dpo)["announcements"][0]["deliveries"][0];
    assert_eq!(d["channel"], "email");
    assert_eq!(d["state"], "pending", "tried again later, not dropped: {d}");
    assert!(d["next_attempt_at"].is_string(), "{d}");
    let error = d["last_error"].as_str().expect("the error is recorded");
    assert!(!error.contains(CONTACT), "{error}");
}

#[test]
fn jet_stream_announces_a_statement_customers_accept_at_next_login_and_must_accept_agrees() {
    let old = include_str!("../../../../examples/policies/jetstream.toml");
    let new = old
        .replace("version = \"3.1\"", "version = \"3.2\"")
        .replacen(
            "scope = \"The Jet-Stream",
            "scope = \"Since 3.2: the Jet-Stream",
            1,
        );
    let site = Site::new("jetstream", |_| {});
    let app = {
        let s = site.run(old);
        tenant(&s, "jet").0
    };
    let s = site.run(&new);
    let feed = body(&get(&s.server.url("/announcements.json")));
    let ext = &feed["items"][0]["_custos"];
    assert_eq!(ext["acceptance_at_next_login"], true, "{feed}");
    assert_eq!(ext["new_version"], "3.2");
    assert_eq!(ext["effective_at"], ext["published_at"]);
    assert!(
        feed["items"][0]["title"]
            .as_str()
            .unwrap()
            .contains("accepted at next login")
    );
    // The login screen asks for 3.2, the version announced.
    let r = send(
        "POST",
        &s.server.url("/v1/statement/must-accept"),
        &app,
        Some(json!({ "subject": "klant-42" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body(&r), json!({ "must_accept": true, "version": "3.2" }));
}
