//! Recipients told (Art. 19) over HTTP with real receivers on loopback: a signed notification
//! verified by the receiver, a receiver that is down (retried with backoff, then a dead letter,
//! then delivered by a retry), a slow one (a failed attempt after the timeout, while the others
//! are delivered), and bad input as problems naming the field.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_rights::webhook::{self, Backoff};
use custos_server::Config;
use custos_vault::recipients::{Notification, NotificationState};
use custos_vault::{MasterKey, SubjectId, TenantId, Vault};
use serde_json::json as j;

use crate::data::{Setup, admin_key, json, on_postgresql, pg_config, send, sqlite_config, tenant};
use crate::{JBSYNC, Running, problem};

const SECRET: &str = "whsec_test_0123456789abcdef012345";

/// A server with the notifier every 100 ms, a 500 ms timeout and a short schedule (3 attempts,
/// 200 ms then 400 ms apart), and a vault handle of its own on the same database with the same
/// master key, to queue notifications as a rectification or erasure would and to read them.
struct Notifying {
    setup: Setup,
    vault: Mutex<Vault>,
}

fn start(mut config: Config) -> Notifying {
    let master = MasterKey::generate().expect("random key");
    let backend = custos_server::Backend::open(&config, master.clone()).expect("backend opens");
    let admin = admin_key(&backend);
    let vault = Vault::open(&custos_server::backend::store_config(&config), master)
        .expect("a second handle opens");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.notify_interval = Some(Duration::from_millis(100));
    config.notify_timeout = Duration::from_millis(500);
    config.notify_backoff = Backoff {
        base: Duration::from_millis(200),
        factor: 2,
        cap: Duration::from_secs(1),
        max_attempts: 3,
        jitter: 0.0,
    };
    config.purge_interval = None;
    Notifying {
        setup: Setup {
            server: Running::serve(config, JBSYNC, Some(backend)),
            admin,
        },
        vault: Mutex::new(vault),
    }
}

impl Notifying {
    fn url(&self, p: &str) -> String {
        self.setup.server.url(p)
    }

    /// Queues the notifications of a change to `subject`, as the request code does.
    fn change(&self, subject: &str, request_id: &str, action: &str) -> Vec<String> {
        self.vault
            .lock()
            .unwrap()
            .tenant(&TenantId::new("acme").unwrap())
            .notify_recipients(
                &SubjectId::new(subject).unwrap(),
                request_id,
                action,
                jiff::Timestamp::now(),
            )
            .expect("queued")
    }

    fn history(&self, request_id: &str) -> Vec<Notification> {
        self.vault
            .lock()
            .unwrap()
            .tenant(&TenantId::new("acme").unwrap())
            .notifications_of_request(request_id)
            .expect("listed")
    }

    fn disclose(&self, app: &str, recipient: &str, reference: &str) {
        let r = send(
            "POST",
            &self.url("/v1/disclosures"),
            app,
            Some(
                j!({ "subject": "jan@example.nl", "recipient": recipient, "categories": ["draft", "support"], "reference": reference }),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }

    fn hook(&self, dpo: &str, recipient: &str, url: &str) {
        let r = send(
            "PUT",
            &self.url(&format!("/v1/recipients/{recipient}/webhook")),
            dpo,
            Some(j!({ "url": url, "secret": SECRET })),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.contains(SECRET), "the secret is never returned");
    }
}

/// One request as a receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    at: Instant,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on loopback that answers every request after `delay` with `status`.
pub(crate) struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) fn start(delay: Duration, status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || serve_one(stream, delay, status, &seen));
            }
        });
        Receiver { addr, got }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/custos/hook", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, delay: Duration, status: u16, seen: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut headers = Vec::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    seen.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    std::thread::sleep(delay);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
}

/// An address where nothing listens (a port bound, then released).
fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("address");
    drop(l);
    format!("http://{addr}/hook")
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metrics(n: &Notifying) -> String {
    crate::get(&n.url("/metrics")).body
}

#[test]
fn a_signed_notification_reaches_the_receiver_which_verifies_it() {
    signed_delivery(&start(sqlite_config("recipients-signed")));
}

#[test]
fn a_signed_notification_reaches_the_receiver_on_postgresql() {
    on_postgresql("recipients_signed", |c| signed_delivery(&start(c)));
}

fn signed_delivery(n: &Notifying) {
    let (app, dpo, _) = tenant(&n.setup, "acme");
    let receiver = Receiver::start(Duration::ZERO, 204);
    n.disclose(&app, "anthropic", "ant-42");
    n.hook(&dpo, "anthropic", &receiver.url());
    assert_eq!(
        n.change("jan@example.nl", "req_1", "erasure"),
        ["anthropic"]
    );

    wait_until("the receiver got it", Duration::from_secs(10), || {
        !receiver.received().is_empty()
    });
    let got = receiver.received().remove(0);
    let signature = got.header(webhook::SIGNATURE_HEADER).expect("signed");
    let now = jiff::Timestamp::now().as_second();
    assert_eq!(
        webhook::verify(SECRET.as_bytes(), signature, &got.body, now, 300),
        Ok(()),
        "the receiver verifies the signature with the shared secret"
    );
    assert!(webhook::verify(b"some other secret 0123", signature, &got.body, now, 300).is_err());
    let body: serde_json::Value = serde_json::from_slice(&got.body).expect("JSON");
    assert_eq!(body["type"], "custos.subject.erasure");
    assert_eq!(body["subject_references"], j!(["ant-42"]));
    assert_eq!(body["categories"], j!(["draft", "support"]));
    assert_eq!(body["request_id"], "req_1");
    assert_eq!(
        got.header(webhook::ID_HEADER),
        body["id"].as_str(),
        "the id header lets receivers deduplicate"
    );
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(!String::from_utf8_lossy(&got.body).contains("jan@example.nl"));

    wait_until(
        "it is recorded as delivered",
        Duration::from_secs(10),
        || n.history("req_1")[0].state == NotificationState::Delivered,
    );
    let h = n.history("req_1");
    assert_eq!(h[0].attempts, 1);
    assert!(h[0].delivered_at.is_some(), "who was told when");
    wait_until("the metrics count it", Duration::from_secs(5), || {
        metrics(n).contains("custos_notifications_total{outcome=\"delivered\"} 1")
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(receiver.received().len(), 1, "delivered once");
}

#[test]
fn a_receiver_that_is_down_is_retried_with_backoff_then_dead_lettered_and_a_retry_delivers() {
    let n = start(sqlite_config("recipients-down"));
    let (app, dpo, auditor) = tenant(&n.setup, "acme");
    n.disclose(&app, "deepgram", "dg-7");
    n.hook(&dpo, "deepgram", &closed_port_url());
    let started = Instant::now();
    n.change("jan@example.nl", "req_2", "rectification");

    let mut dead = serde_json::Value::Null;
    wait_until("it is a dead letter", Duration::from_secs(15), || {
        dead = json(&send(
            "GET",
            &n.url("/v1/notifications/dead"),
            &auditor,
            None,
        ));
        dead["notifications"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    // Three attempts, 200 ms then 400 ms apart: not before 600 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let letter = &dead["notifications"][0];
    assert_eq!(letter["recipient"], "deepgram");
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert_eq!(letter["state"], "dead");
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{letter}"
    );
    let m = metrics(&n);
    assert!(
        m.contains("custos_notifications_total{outcome=\"dead\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("custos_notifications_total{outcome=\"failed\"} 3"),
        "{m}"
    );

    // The receiver comes back at a new address; the DPO points the webhook there and retries.
    let receiver = Receiver::start(Duration::ZERO, 200);
    n.hook(&dpo, "deepgram", &receiver.url());
    let id = letter["notification_id"].as_str().unwrap().to_owned();
    let r = send(
        "POST",
        &n.url(&format!("/v1/notifications/{id}/retry")),
        &auditor,
        None,
    );
    assert_eq!(r.status, 403, "an auditor may read but not retry");
    let r = send(
        "POST",
        &n.url(&format!("/v1/notifications/{id}/retry")),
        &dpo,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["state"], "pending");
    wait_until("the retry is delivered", Duration::from_secs(10), || {
        n.history("req_2")[0].state == NotificationState::Delivered
    });
    assert_eq!(receiver.received().len(), 1);
    let dead = json(&send("GET", &n.url("/v1/notifications/dead"), &dpo, None));
    assert_eq!(dead["notifications"], j!([]));
    let r = send(
        "POST",
        &n.url(&format!("/v1/notifications/{id}/retry")),
        &dpo,
        None,
    );
    assert_eq!(r.status, 404, "only a dead letter can be retried");
    problem(&r);
}

#[test]
fn a_slow_receiver_is_a_failed_attempt_after_the_timeout_and_holds_up_no_other() {
    let n = start(sqlite_config("recipients-slow"));
    let (app, dpo, _) = tenant(&n.setup, "acme");
    let slow = Receiver::start(Duration::from_secs(5), 200);
    let fast = Receiver::start(Duration::ZERO, 200);
    n.disclose(&app, "anthropic", "ant-1");
    n.disclose(&app, "openai", "oa-1");
    n.hook(&dpo, "anthropic", &slow.url());
    n.hook(&dpo, "openai", &fast.url());
    let started = Instant::now();
    n.change("jan@example.nl", "req_3", "restriction");

    wait_until("the fast receiver is told", Duration::from_secs(10), || {
        n.history("req_3")
            .iter()
            .any(|x| x.recipient == "openai" && x.state == NotificationState::Delivered)
    });
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the slow receiver held up the fast one: {:?}",
        started.elapsed()
    );
    wait_until(
        "the slow attempt has failed",
        Duration::from_secs(10),
        || {
            n.history("req_3").iter().any(|x| {
                x.recipient == "anthropic"
                    && x.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("timeout"))
            })
        },
    );
    let h = n.history("req_3");
    let anthropic = h.iter().find(|x| x.recipient == "anthropic").unwrap();
    assert_ne!(anthropic.state, NotificationState::Delivered);
    // The worker went on: the slow receiver saw the attempts after the first, on schedule.
    wait_until(
        "the slow one is tried again",
        Duration::from_secs(10),
        || slow.received().len() >= 2,
    );
    let seen = slow.received();
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(600));
}

#[test]
fn bad_disclosures_and_webhooks_are_problems_naming_the_field() {
    let n = start(sqlite_config("recipients-bad"));
    let (app, dpo, auditor) = tenant(&n.setup, "acme");
    let post = |body: serde_json::Value| send("POST", &n.url("/v1/disclosures"), &app, Some(body));

    let r =
        post(j!({ "subject": "jan@example.nl", "recipient": "antropic", "categories": ["draft"] }));
    assert_eq!(r.status, 422, "{}", r.body);
    let p = problem(&r);
    assert_eq!(p["errors"][0]["field"], "/recipient");
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("did you mean `anthropic`?")
    );
    let r = post(j!({ "subject": "jan@example.nl", "recipient": "anthropic", "categories": [] }));
    assert_eq!(problem(&r)["errors"][0]["field"], "/categories");
    let r = post(
        j!({ "subject": "jan@example.nl", "recipient": "anthropic", "categories": ["drafts"] }),
    );
    assert_eq!(
        problem(&r)["errors"][0]["field"],
        "/categories",
        "{}",
        r.body
    );
    let r = post(
        j!({ "subject": "jan@example.nl", "recipient": "anthropic", "categories": ["draft"], "disclosed_at": "2099-01-01T00:00:00Z" }),
    );
    assert_eq!(problem(&r)["errors"][0]["field"], "/disclosed_at");
    let r = post(j!({ "recipient": "anthropic", "categories": ["draft"] }));
    assert_eq!(r.status, 400, "the subject is required: {}", r.body);
    assert!(
        !r.body.contains("jan@example.nl"),
        "no problem repeats the subject"
    );
    let r = send(
        "POST",
        &n.url("/v1/disclosures"),
        &auditor,
        Some(
            j!({ "subject": "jan@example.nl", "recipient": "anthropic", "categories": ["draft"] }),
        ),
    );
    assert_eq!(r.status, 403);

    let put = |who: &str, recipient: &str, body: serde_json::Value| {
        send(
            "PUT",
            &n.url(&format!("/v1/recipients/{recipient}/webhook")),
            who,
            Some(body),
        )
    };
    let r = put(
        &dpo,
        "anthropic",
        j!({ "url": "ftp://x.example/", "secret": SECRET }),
    );
    assert_eq!(problem(&r)["errors"][0]["field"], "/url");
    let r = put(
        &dpo,
        "anthropic",
        j!({ "url": "https://x.example/", "secret": "short" }),
    );
    assert_eq!(problem(&r)["errors"][0]["field"], "/secret");
    let r = put(
        &dpo,
        "nobody",
        j!({ "url": "https://x.example/", "secret": SECRET }),
    );
    assert_eq!(r.status, 422);
    assert_eq!(problem(&r)["errors"][0]["field"], "recipient");
    let r = put(
        &app,
        "anthropic",
        j!({ "url": "https://x.example/", "secret": SECRET }),
    );
    assert_eq!(r.status, 403, "an app may not set webhooks");
    let r = send("GET", &n.url("/v1/notifications/dead"), &app, None);
    assert_eq!(r.status, 403, "an app may not read the dead letters");
    let r = send(
        "POST",
        &n.url("/v1/notifications/ntf_00000000000000000000/retry"),
        &dpo,
        None,
    );
    assert_eq!(r.status, 404);
}

#[test]
fn an_erasure_request_tells_each_recipient_and_its_history_shows_when() {
    let n = start(sqlite_config("recipients-erasure"));
    let s = &n.setup;
    let (app, dpo, auditor) = tenant(s, "acme");
    let who = "jan@example.nl";
    assert_eq!(crate::data::put(s, &app, who, "a question").status, 201);
    let receiver = Receiver::start(Duration::ZERO, 200);
    n.disclose(&app, "anthropic", "ant-9");
    n.disclose(&app, "sendgrid", "sg-9");
    n.hook(&dpo, "anthropic", &receiver.url());

    let r = send(
        "POST",
        &n.url("/v1/requests"),
        &app,
        Some(j!({ "kind": "erasure", "subject": who })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["request"]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(
        "POST",
        &n.url(&format!("/v1/requests/{id}/verify")),
        &dpo,
        Some(j!({ "attested": "signed-in session in the app" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        "POST",
        &n.url(&format!("/v1/requests/{id}/execute")),
        &dpo,
        Some(j!({ "subject": who })),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    wait_until("anthropic is told", Duration::from_secs(10), || {
        !receiver.received().is_empty()
    });
    let got = receiver.received().remove(0);
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["type"], "custos.subject.erasure");
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["subject_references"], j!(["ant-9"]));

    let mut detail = serde_json::Value::Null;
    wait_until(
        "the request's history shows the delivery",
        Duration::from_secs(10),
        || {
            detail = json(&send(
                "GET",
                &n.url(&format!("/v1/requests/{id}")),
                &auditor,
                None,
            ));
            detail["notifications"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["state"] == "delivered"))
        },
    );
    let told = detail["notifications"].as_array().unwrap();
    assert_eq!(told.len(), 2, "{detail}");
    assert_eq!(told[0]["recipient"], "anthropic");
    assert!(told[0]["delivered_at"].is_string(), "who was told when");
    assert_eq!(told[1]["recipient"], "sendgrid");
    assert_eq!(
        told[1]["state"], "dead",
        "a recipient without a webhook is not skipped silently"
    );
}

/// A backlog drains completely to a fast local receiver, and how fast. The figure in
/// BENCHMARKS.md comes from 200 subjects × 5 recipients:
/// `CUSTOS_NOTIFY_BACKLOG_SUBJECTS=200 cargo test -p custos-server --test it -- --nocapture
/// delivery_throughput` (add `CUSTOS_TEST_DATABASE_URL` for PostgreSQL); the default is 20.
#[test]
fn delivery_throughput() {
    let config = match pg_config("recipients_tp") {
        Some(c) => c,
        None => sqlite_config("recipients-tp"),
    };
    let backend = if config.database.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let n = start(config);
    let (app, dpo, _) = tenant(&n.setup, "acme");
    let receiver = Receiver::start(Duration::ZERO, 204);
    let recipients = ["anthropic", "deepgram", "openai", "elevenlabs", "supabase"];
    for r in recipients {
        n.hook(&dpo, r, &receiver.url());
    }
    let subjects: usize = std::env::var("CUSTOS_NOTIFY_BACKLOG_SUBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    for i in 0..subjects {
        for r in recipients {
            let body = j!({ "subject": format!("s{i}@example.nl"), "recipient": r, "categories": ["draft"], "reference": format!("{r}-{i}") });
            assert_eq!(
                send("POST", &n.url("/v1/disclosures"), &app, Some(body)).status,
                201
            );
        }
    }
    let total = subjects * recipients.len();
    let started = Instant::now();
    for i in 0..subjects {
        n.change(&format!("s{i}@example.nl"), &format!("req_{i}"), "erasure");
    }
    let queued = started.elapsed();
    wait_until("all are delivered", Duration::from_secs(300), || {
        receiver.received().len() >= total
    });
    let drained = started.elapsed();
    eprintln!(
        "{backend}: {total} notifications queued in {:.2} s, all delivered after {:.2} s ({:.0}/s)",
        queued.as_secs_f64(),
        drained.as_secs_f64(),
        total as f64 / drained.as_secs_f64()
    );
}

/// Real receivers take https only: the delivery client speaks TLS (the first bytes a receiver
/// gets are a TLS handshake record), and a receiver whose certificate no root vouches for is a
/// failed attempt, never a delivery.
#[test]
fn webhooks_speak_tls_to_https_receivers() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the client connects");
        let mut first = [0u8; 3];
        stream.read_exact(&mut first).expect("a first record");
        first
    });
    let agent = custos_server::notifier::agent(std::time::Duration::from_secs(2));
    let sent = agent
        .post(&format!("https://127.0.0.1:{port}/hook"))
        .header("content-type", "application/json")
        .send(&b"{}"[..]);
    assert!(
        sent.is_err(),
        "nothing answers the handshake, so nothing is delivered"
    );
    let first = seen.join().expect("listener");
    assert_eq!(
        first[0], 0x16,
        "a TLS handshake record starts the conversation"
    );
    assert_eq!(first[1], 0x03, "TLS major version 3");
}
