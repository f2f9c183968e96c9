//! Many servers as one (issue 23; docs/scale-out.md, "Many servers"): three servers over one
//! PostgreSQL schema, as behind a load balancer. An idempotency key sent to all three writes one
//! record; a key's rate limit holds in total; a key revoked through one server is refused by the
//! others as soon as PostgreSQL delivers the notice of it, and at once by a server that cannot
//! hear such notices; and the work the servers do on their timers (recipients' webhooks,
//! announcements by e-mail and webhook) and the OpenGDPR status callbacks reach their receivers
//! exactly once, counted at the receiver.

use std::time::{Duration, Instant};

use custos_access::Role;
use custos_server::{Backend, Config};
use custos_vault::{MasterKey, SubjectId, TenantId, Vault};
use serde_json::json as j;

use crate::data::{admin_key, json, pg_config, send};
use crate::recipients::Receiver;
use crate::{JBSYNC, Running, agent, reply};

const SECRET: &str = "whsec_test_0123456789abcdef012345";

/// Three servers over one PostgreSQL schema, with one master key, and a vault handle of the
/// test's own on the same schema.
struct Fleet {
    servers: Vec<Running>,
    admin: String,
    config: Config,
    master: MasterKey,
}

impl Fleet {
    /// The fleet on a fresh schema for the test `name`, each server configured by `adjust` and
    /// serving `policy`; `None` (with a notice) without `CUSTOS_TEST_DATABASE_URL`.
    fn start(name: &str, policy: &str, adjust: impl Fn(&mut Config)) -> Option<Fleet> {
        let Some(mut config) = pg_config(&format!("many_{name}")) else {
            eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL test");
            return None;
        };
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.max_body_bytes = 4096;
        config.pool_size = 2;
        config.purge_interval = None;
        config.notify_interval = None;
        config.rate_limit_per_second = 1000;
        adjust(&mut config);
        let master = MasterKey::generate().expect("random key");
        let admin = admin_key(&open(&config, &master));
        let mut fleet = Fleet {
            servers: Vec::new(),
            admin,
            config,
            master,
        };
        fleet.servers = fleet.run(policy);
        Some(fleet)
    }

    /// Three more servers on the fleet's database serving `policy`, started at once.
    fn run(&self, policy: &str) -> Vec<Running> {
        let starting: Vec<_> = (0..3)
            .map(|_| {
                let (config, policy) = (self.config.clone(), policy.to_owned());
                let backend = open(&config, &self.master);
                std::thread::spawn(move || Running::serve(config, &policy, Some(backend)))
            })
            .collect();
        starting
            .into_iter()
            .map(|t| t.join().expect("a server starts"))
            .collect()
    }

    fn url(&self, server: usize, path: &str) -> String {
        self.servers[server % self.servers.len()].url(path)
    }

    /// A vault handle of the test's own on the fleet's database.
    fn vault(&self) -> Vault {
        Vault::open(
            &custos_server::backend::store_config(&self.config),
            self.master.clone(),
        )
        .expect("a vault handle opens")
    }

    /// Creates tenant `t` through server 0; its (app, dpo) keys.
    fn tenant(&self, t: &str) -> (String, String) {
        let r = send(
            "POST",
            &self.url(0, "/v1/tenants"),
            &self.admin,
            Some(j!({ "id": t, "name": t })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        (self.key(t, "app").1, self.key(t, "dpo").1)
    }

    /// A new key of `role` for tenant `t`, through server 0: (key id, key).
    fn key(&self, t: &str, role: &str) -> (String, String) {
        let r = send(
            "POST",
            &self.url(0, &format!("/v1/tenants/{t}/keys")),
            &self.admin,
            Some(j!({ "role": role, "label": role })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let v = json(&r);
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }
}

fn open(config: &Config, master: &MasterKey) -> Backend {
    Backend::open(config, master.clone()).expect("the backend opens")
}

/// Waits until `done`, at most `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `f(server)` for the three servers at once, released together; the answers in order.
fn at_once<T: Send>(f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let gate = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (f, gate) = (&f, &gate);
                s.spawn(move || {
                    gate.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn one_idempotency_key_sent_to_three_servers_writes_one_record() {
    let Some(fleet) = Fleet::start("idempotency", JBSYNC, |_| {}) else {
        return;
    };
    let (app, dpo) = fleet.tenant("acme");
    let body = r#"{"subject":"jan","category":"support","purposes":["support"],"data":{"n":1}}"#;
    let answers = at_once(|i| {
        reply(
            agent()
                .post(&fleet.url(i, "/v1/records"))
                .header("authorization", &format!("Bearer {app}"))
                .header("content-type", "application/json")
                .header("idempotency-key", "order-7")
                .send(body.as_bytes())
                .expect("request completes"),
        )
    });
    for a in &answers {
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let ids: Vec<_> = answers.iter().map(|a| json(a)["id"].clone()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every server answers with the one record: {ids:?}"
    );
    let trail = json(&send(
        "GET",
        &fleet.url(1, "/v1/audit?action=records.put"),
        &dpo,
        None,
    ));
    assert_eq!(
        trail["entries"].as_array().unwrap().len(),
        1,
        "written once: {trail}"
    );
}

#[test]
fn a_keys_rate_limit_holds_in_total_across_three_servers() {
    // 2 requests a second, bursts of 4: each server alone would let 4 through at once.
    let Some(fleet) = Fleet::start("rate", JBSYNC, |c| c.rate_limit_per_second = 2) else {
        return;
    };
    let app = {
        let backend = open(&fleet.config, &fleet.master);
        let mut a = backend.access.lock().unwrap();
        let now = jiff::Timestamp::now();
        a.create_tenant("acme", "acme", now).unwrap();
        a.issue_key(Some("acme"), Role::App, "app", now)
            .unwrap()
            .key
    };
    let url = |i: usize| fleet.url(i, "/v1/records/00000000000000000000000000000000");
    let start = Instant::now();
    let answers: Vec<_> = (0..18).map(|i| send("GET", &url(i), &app, None)).collect();
    let elapsed = start.elapsed().as_secs_f64();
    let passed = answers.iter().filter(|a| a.status != 429).count();
    for a in answers.iter().filter(|a| a.status == 429) {
        assert_eq!(crate::problem(a)["code"], "too-many-requests", "{}", a.body);
    }
    // The burst, and what refilled while the requests went out (plus one for rounding).
    let allowed = 4 + (2.0 * elapsed).floor() as usize + 1;
    assert!(
        (4..=allowed).contains(&passed),
        "{passed} of 18 requests passed in {elapsed:.2} s; the shared bucket allows {allowed}"
    );
    // The bucket refills: after a second, two more.
    std::thread::sleep(Duration::from_millis(1100));
    assert_ne!(send("GET", &url(2), &app, None).status, 429);
}

/// Whether server `i` hears revocations from PostgreSQL now (`custos_revocations_heard`).
fn hears(fleet: &Fleet, i: usize) -> bool {
    let r = send("GET", &fleet.url(i, "/metrics"), "", None);
    assert_eq!(r.status, 200);
    r.body.contains("\ncustos_revocations_heard 1")
}

/// Ends the servers' connections that listen for revocations (as a restart of PostgreSQL or a
/// network failure would).
fn end_listening(fleet: &Fleet) {
    let schema = fleet.config.schema.clone();
    let mut c =
        custos_vault::postgres_connection(&fleet.config.database, &schema).expect("connects");
    let ended = c
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = left('custos-key-watch ' || $1, 63) AND datname = current_database()",
            &[&schema],
        )
        .expect("ends the listening connections");
    // One per server, and perhaps the test's own backend's, dropped but not yet closed.
    assert!(ended.len() >= 3, "one listening connection per server");
}

/// Revokes `key_id` of tenant acme through server 0.
fn revoke(fleet: &Fleet, key_id: &str) {
    let r = send(
        "DELETE",
        &fleet.url(0, &format!("/v1/tenants/acme/keys/{key_id}")),
        &fleet.admin,
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

/// A fleet for the test `name` whose three servers hear revocations, with a key of tenant acme
/// that every server has checked (and keeps in its cache): (fleet, key id, key).
fn listening_with_a_checked_key(name: &str) -> Option<(Fleet, String, String)> {
    let fleet = Fleet::start(name, JBSYNC, |_| {})?;
    fleet.tenant("acme");
    let (key_id, key) = fleet.key("acme", "app");
    wait_until(
        "every server hears revocations",
        Duration::from_secs(15),
        || (0..3).all(|i| hears(&fleet, i)),
    );
    for i in 0..3 {
        assert_eq!(probe(&fleet, &key, i).status, 404);
    }
    Some((fleet, key_id, key))
}

/// A request with `key` to server `i`.
fn probe(fleet: &Fleet, key: &str, i: usize) -> crate::Reply {
    send(
        "GET",
        &fleet.url(i, "/v1/records/00000000000000000000000000000000"),
        key,
        None,
    )
}

#[test]
fn a_key_revoked_through_one_server_is_refused_by_the_others_once_they_hear_of_it() {
    let Some((fleet, key_id, key)) = listening_with_a_checked_key("revocation") else {
        return;
    };
    let probe = |i: usize| probe(&fleet, &key, i);
    revoke(&fleet, &key_id);
    let revoked = Instant::now();
    // PostgreSQL delivers the notice at the revocation's commit: within milliseconds, and
    // from then on every request is refused.
    for i in [1, 2, 0] {
        wait_until(
            &format!("server {i} refuses the revoked key"),
            Duration::from_secs(2),
            || probe(i).status == 401,
        );
    }
    let heard = revoked.elapsed();
    for i in [1, 2, 0, 1, 2] {
        let r = probe(i);
        assert_eq!(r.status, 401, "server {i} takes the revoked key again");
        assert_eq!(crate::problem(&r)["code"], "unauthenticated");
    }
    eprintln!(
        "the revocation reached all three servers within {:.1} ms",
        heard.as_secs_f64() * 1e3
    );
}

#[test]
fn a_server_that_cannot_hear_revocations_asks_the_database_and_refuses_at_once() {
    let Some((fleet, key_id, key)) = listening_with_a_checked_key("unheard") else {
        return;
    };
    let probe = |i: usize| probe(&fleet, &key, i).status;
    end_listening(&fleet);
    wait_until("no server vouches", Duration::from_secs(10), || {
        (0..3).all(|i| !hears(&fleet, i))
    });
    // Still cached, but the database is asked: refused at once, by every server.
    revoke(&fleet, &key_id);
    for i in [1, 2, 0] {
        assert_eq!(probe(i), 401, "server {i} still takes the revoked key");
    }
    // And the servers listen again by themselves.
    wait_until("every server hears again", Duration::from_secs(15), || {
        (0..3).all(|i| hears(&fleet, i))
    });
}

#[test]
fn recipients_webhooks_are_delivered_once_by_three_notifiers() {
    let Some(fleet) = Fleet::start("webhooks", JBSYNC, |c| {
        c.notify_interval = Some(Duration::from_millis(50));
    }) else {
        return;
    };
    let (app, dpo) = fleet.tenant("acme");
    let receiver = Receiver::start(Duration::ZERO, 204);
    let r = send(
        "PUT",
        &fleet.url(1, "/v1/recipients/anthropic/webhook"),
        &dpo,
        Some(j!({ "url": receiver.url(), "secret": SECRET })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let subjects: Vec<String> = (0..30).map(|i| format!("klant-{i}@example.nl")).collect();
    for (i, s) in subjects.iter().enumerate() {
        let r = send(
            "POST",
            &fleet.url(i, "/v1/disclosures"),
            &app,
            Some(j!({ "subject": s, "recipient": "anthropic", "categories": ["support"] })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Queued as an erasure would, while the three notifiers run.
    let mut vault = fleet.vault();
    let mut queued = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        queued.extend(
            vault
                .tenant(&TenantId::new("acme").unwrap())
                .notify_recipients(
                    &SubjectId::new(s).unwrap(),
                    &format!("req_{i}"),
                    "erasure",
                    jiff::Timestamp::now(),
                )
                .expect("queued"),
        );
    }
    assert_eq!(queued.len(), 30);
    wait_until(
        "every notification arrived",
        Duration::from_secs(20),
        || receiver.received().len() >= 30,
    );
    // Time for a second delivery of any of them to arrive, if one were sent.
    std::thread::sleep(Duration::from_millis(600));
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.header(custos_rights::webhook::ID_HEADER)
                .expect("an id")
                .to_owned()
        })
        .collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!((total, ids.len()), (30, 30), "each notification once");
}

/// An OpenGDPR erasure request with a status callback to `callback`.
fn opengdpr_erasure(callback: &str) -> String {
    j!({
        "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
        "subject_request_type": "erasure",
        "submitted_time": "2026-11-20T15:00:00Z",
        "subject_identities": [
            { "identity_type": "email", "identity_value": "jan@example.nl", "identity_format": "raw" }
        ],
        "api_version": "1.0",
        "status_callback_urls": [callback]
    })
    .to_string()
}

#[test]
fn an_opengdpr_request_filed_with_three_servers_at_once_calls_back_once() {
    let Some(fleet) = Fleet::start("opengdpr", JBSYNC, |_| {}) else {
        return;
    };
    let (app, _) = fleet.tenant("acme");
    // The tenant holds data already, so nothing but the request itself orders the three filings.
    let r = send(
        "POST",
        &fleet.url(0, "/v1/records"),
        &app,
        Some(j!({ "subject": "piet", "category": "support", "purposes": ["support"], "data": {} })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let controller = Receiver::start(Duration::ZERO, 202);
    let body = opengdpr_erasure(&controller.url());
    // A controller's retry reaching every server at once: one is filed, the others are told.
    let statuses = at_once(|i| {
        let r = reply(
            agent()
                .post(&fleet.url(i, "/v1/opengdpr_requests"))
                .header("authorization", &format!("Bearer {app}"))
                .header("content-type", "application/json")
                .send(body.as_bytes())
                .expect("request completes"),
        );
        (r.status, r.body)
    });
    let mut codes: Vec<u16> = statuses.iter().map(|(s, _)| *s).collect();
    codes.sort_unstable();
    assert_eq!(codes, [201, 409, 409], "{statuses:?}");
    wait_until("the pending callback", Duration::from_secs(10), || {
        !controller.received().is_empty()
    });
    // Cancelled through another server: one more callback.
    let r = reply(
        agent()
            .delete(&fleet.url(
                2,
                "/v1/opengdpr_requests/a7551968-d5d6-44b2-9831-815ac9017798",
            ))
            .header("authorization", &format!("Bearer {app}"))
            .call()
            .expect("request completes"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until("the cancelled callback", Duration::from_secs(10), || {
        controller.received().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(600));
    let got: Vec<serde_json::Value> = controller
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON callback"))
        .collect();
    let states: Vec<&str> = got
        .iter()
        .map(|c| c["request_status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "cancelled"], "each callback once");
}

const ASSEMBLY: &str = "[[recipient]]\nid = \"assemblyai\"\nname = \"AssemblyAI Inc.\"\nkind = \"sub_processor\"\npurpose.nl = \"Spraaktranscriptie\"\npurpose.en = \"Speech-to-text\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n\n";
const CONTACT: &str = "privacy@acme.example";

#[test]
fn an_announcement_is_made_mailed_and_sent_once_when_three_servers_publish_it_at_once() {
    let outbox = std::env::temp_dir().join(format!("custos-many-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outbox);
    let Some(mut fleet) = Fleet::start("announcements", JBSYNC, |c| {
        c.notify_interval = Some(Duration::from_millis(50));
        c.mail_outbox = Some(outbox.clone());
    }) else {
        return;
    };
    let (_, dpo) = fleet.tenant("acme");
    let hook = Receiver::start(Duration::ZERO, 204);
    for (path, body) in [
        ("/v1/announcements/contacts", j!({ "addresses": [CONTACT] })),
        (
            "/v1/app/webhook",
            j!({ "url": hook.url(), "secret": SECRET }),
        ),
    ] {
        let r = send("PUT", &fleet.url(0, path), &dpo, Some(body));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    // JBSync 2.1 adds a sub-processor in the US; three servers publish it at once.
    fleet.servers.clear();
    let v21 = JBSYNC
        .replace("version = \"2.0\"", "version = \"2.1\"")
        .replacen("[[recipient]]\n", &format!("{ASSEMBLY}[[recipient]]\n"), 1);
    fleet.servers = fleet.run(&v21);
    let mails = || -> Vec<String> {
        std::fs::read_dir(&outbox)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .filter(|m| m.contains(CONTACT))
                    .collect()
            })
            .unwrap_or_default()
    };
    let announced = |r: &crate::recipients::Received| {
        String::from_utf8_lossy(&r.body).contains("announcement.published")
    };
    wait_until(
        "the announcement's e-mail and webhook",
        Duration::from_secs(20),
        || !mails().is_empty() && hook.received().iter().any(announced),
    );
    std::thread::sleep(Duration::from_millis(600));
    let listed = json(&send("GET", &fleet.url(2, "/v1/announcements"), &dpo, None));
    assert_eq!(
        listed["announcements"].as_array().unwrap().len(),
        1,
        "announced once: {listed}"
    );
    assert_eq!(mails().len(), 1, "mailed once");
    assert_eq!(
        hook.received().iter().filter(|r| announced(r)).count(),
        1,
        "sent to the application once"
    );
}

/// A person's answer in a breach record.
fn by_dpo(value: serde_json::Value) -> serde_json::Value {
    j!({ "value": value, "source": { "kind": "person", "actor": "dpo" } })
}

#[test]
fn breach_letters_and_the_deadline_reminder_go_out_once_from_three_servers() {
    let smtp = crate::smtp::Receiver::start();
    let port = smtp.addr().port();
    let Some(fleet) = Fleet::start("breaches", JBSYNC, |c| {
        c.notify_interval = Some(Duration::from_millis(50));
        c.smtp = Some(crate::center::smtp_at(port));
    }) else {
        return;
    };
    let (_, dpo) = fleet.tenant("acme");
    let hook = Receiver::start(Duration::ZERO, 204);
    let r = send(
        "PUT",
        &fleet.url(0, "/v1/app/webhook"),
        &dpo,
        Some(j!({ "url": hook.url(), "secret": SECRET })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Aware 70 hours ago: the Art. 33(1) deadline is 2 hours away, inside every reminder.
    let aware = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(70);
    let r = send(
        "POST",
        &fleet.url(1, "/v1/breaches"),
        &dpo,
        Some(j!({
            "notification": { "kind": "new" },
            "aware_at": by_dpo(j!(aware.to_string())),
            "kinds": by_dpo(j!(["confidentiality"])),
            "description": by_dpo(j!("An export of 40 customers' contact details was e-mailed to one wrong customer.")),
            "recipient": by_dpo(j!({ "kind": "mistaken", "per_subject": 1 })),
            "unintelligible": by_dpo(j!("not_encrypted")),
            "exfiltration": by_dpo(j!({ "kind": "yes" })),
            "subject_count": by_dpo(j!({ "kind": "exact", "n": 40 })),
            "data": by_dpo(j!({ "categories": ["account"] })),
        })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["breach_id"].as_str().unwrap().to_owned();
    let r = send(
        "POST",
        &fleet.url(2, &format!("/v1/breaches/{id}/decision")),
        &dpo,
        Some(
            j!({ "version": 1, "notify_authority": true, "notify_subjects": true,
            "reasons": "contact details of 40 customers to a stranger: we tell them" }),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let addresses: Vec<String> = (0..12).map(|i| format!("klant-{i}@example.test")).collect();
    let r = send(
        "POST",
        &fleet.url(0, &format!("/v1/breaches/{id}/letters")),
        &dpo,
        Some(j!({ "addresses": addresses, "lang": "nl" })),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let reminder = |r: &crate::recipients::Received| {
        String::from_utf8_lossy(&r.body).contains("breach.deadline")
    };
    smtp.wait_for(12, Duration::from_secs(20));
    wait_until("the deadline reminder", Duration::from_secs(20), || {
        hook.received().iter().any(reminder)
    });
    std::thread::sleep(Duration::from_millis(600));
    let mut to: Vec<String> = smtp.messages().into_iter().flat_map(|m| m.to).collect();
    to.sort();
    let mut expected = addresses.clone();
    expected.sort();
    assert_eq!(to, expected, "each address told once");
    assert_eq!(
        hook.received().iter().filter(|r| reminder(r)).count(),
        1,
        "one reminder"
    );
}
