//! Monitoring for a privacy team (`docs/operations.md`, "Monitoring"): the gauges of
//! `/metrics` (open requests by risk, dead letters, purge lag, the audit seal), the daily digest
//! of requests at risk sent to a signed webhook once a day, and the example Prometheus alert
//! rules, checked and unit-tested with promtool against the metrics the server really serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use crate::demo_server::DemoServer;

const ALERTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../packaging/prometheus/custos-alerts.yml"
);
const ALERT_TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../packaging/prometheus/custos-alerts.test.yml"
);

/// One request a receiver got: its headers (lower-cased names) and its body.
pub(crate) type Delivery = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver on a free port: every request it got.
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) got: mpsc::Receiver<Delivery>,
}

pub(crate) fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/custos/digest", listener.local_addr().unwrap());
    let (tx, got) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line); // the request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((headers, body)).is_err() {
                break;
            }
        }
    });
    Receiver { url, got }
}

fn metrics(server: &DemoServer) -> String {
    let (status, body) = server.get("", "/metrics");
    assert_eq!(status, 200);
    body
}

/// Waits until the watch has read (its gauges appear), then the exposition.
fn watched_metrics(server: &DemoServer) -> String {
    for _ in 0..100 {
        let m = metrics(server);
        if m.contains("\ncustos_watch_last_read_timestamp_seconds ") {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the watch never read:\n{}", metrics(server));
}

fn file_request(server: &DemoServer, who: &str, kind: &str, days_ago: i64) -> String {
    let received = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_ago);
    let (status, body) = server.post(
        &server.dpo,
        "/v1/requests",
        &serde_json::json!({ "subject": who, "kind": kind, "received_at": received.to_string() }),
    );
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["request"]["request_id"].as_str().unwrap().to_owned()
}

#[test]
fn the_daily_digest_names_requests_at_risk_and_overdue_is_signed_and_goes_once_a_day() {
    let dir = crate::scratch::fresh_dir("digest");
    // Three requests: one received 40 days ago (overdue), one 26 days ago (due within the
    // week), one today (on track).
    let server = DemoServer::start(&dir, &[]);
    let overdue = file_request(&server, "jan@example.nl", "access", 40);
    let at_risk = file_request(&server, "an@example.com", "erasure", 26);
    file_request(&server, "piet@example.nl", "portability", 0);
    // A breach known for 80 hours with the authority not told: past its 72 hours (Art. 33(1)).
    let aware = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(80)).to_string();
    let by = serde_json::json!({ "kind": "person", "actor": "dpo" });
    let (status, body) = server.post(
        &server.dpo,
        "/v1/breaches",
        &serde_json::json!({ "notification": { "kind": "new" },
            "aware_at": { "value": aware, "source": by },
            "kinds": { "value": ["availability"], "source": by } }),
    );
    assert_eq!(status, 201, "{body}");
    server.stop();

    let secret = b"a digest secret of some length";
    std::fs::write(dir.join("digest.secret"), [&secret[..], b"\n"].concat()).unwrap();
    let hook = receiver();
    let secret_file = dir.join("digest.secret");
    let env = [
        ("CUSTOS_DIGEST_URL", hook.url.as_str()),
        ("CUSTOS_DIGEST_SECRET_FILE", secret_file.to_str().unwrap()),
        ("CUSTOS_DIGEST_AT", "00:00"),
    ];
    let server = DemoServer::start_with_env(&dir, &[], &env);
    let (headers, body) = hook
        .got
        .recv_timeout(Duration::from_secs(20))
        .expect("the digest arrives at start, its time of day having passed");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    custos_rights::webhook::verify(
        secret,
        &header("custos-signature"),
        &body,
        jiff::Timestamp::now().as_second(),
        300,
    )
    .expect("signed with the configured secret, like the Art. 19 webhooks");
    let today = custos_rights::request::day_of(jiff::Timestamp::now());
    assert_eq!(header("custos-notification-id"), format!("digest-{today}"));
    let text = String::from_utf8(body).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["kind"], "custos.digest.requests");
    assert_eq!(d["totals"]["open"], 3, "{text}");
    assert_eq!(d["totals"]["overdue"], 1, "{text}");
    assert_eq!(d["totals"]["at_risk"], 1, "{text}");
    let demo = &d["tenants"][0];
    assert_eq!(demo["tenant"], "demo");
    assert_eq!(demo["overdue"][0]["request_id"], overdue.as_str());
    assert_eq!(demo["at_risk"][0]["request_id"], at_risk.as_str());
    assert!(
        demo["at_risk"][0]["why"]
            .as_str()
            .unwrap()
            .contains("Art. 12(3)"),
        "{text}"
    );
    for personal in [
        "jan@example.nl",
        "an@example.com",
        "piet@example.nl",
        "\"subject\"",
    ] {
        assert!(
            !text.contains(personal),
            "`{personal}` in the digest: {text}"
        );
    }

    // The same read fills the gauges; the send is counted once the receiver answered.
    let mut m = watched_metrics(&server);
    for _ in 0..100 {
        if m.contains("custos_digest_runs_total{outcome=\"sent\"}") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        m = metrics(&server);
    }
    for line in [
        "custos_requests_open{risk=\"overdue\"} 1",
        "custos_requests_open{risk=\"at_risk\"} 1",
        "custos_requests_open{risk=\"on_track\"} 1",
        "custos_notifications_dead_letters 0",
        "custos_breaches_open 1",
        "custos_breaches_past_deadline 1",
        "custos_digest_runs_total{outcome=\"sent\"} 1",
    ] {
        assert!(m.contains(line), "`{line}` missing:\n{m}");
    }
    assert!(m.contains("\ncustos_audit_unsealed_entries "), "{m}");
    assert!(
        m.contains("\ncustos_breach_deadline_seconds -"),
        "negative once passed: {m}"
    );
    assert!(m.contains("\ncustos_purge_never_run_tenants 1"), "{m}");
    server.stop();

    // Started again the same day: the day is claimed, no second digest.
    let server = DemoServer::start_with_env(&dir, &[], &env);
    let m = watched_metrics(&server);
    assert!(
        hook.got.recv_timeout(Duration::from_secs(2)).is_err(),
        "a second digest the same day"
    );
    assert!(!m.contains("custos_digest_runs_total{outcome="), "{m}");
    server.stop();
}

#[test]
fn a_digest_secret_that_is_too_short_stops_the_server_and_names_the_field() {
    let dir = crate::scratch::fresh_dir("digest-secret");
    std::fs::write(dir.join("short.secret"), "too short\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("CUSTOS_MASTER_KEY")
        .env_remove("CUSTOS_POLICY")
        .env("CUSTOS_DIGEST_URL", "http://127.0.0.1:9/digest")
        .env("CUSTOS_DIGEST_SECRET_FILE", dir.join("short.secret"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("digest.secret_file") && err.contains("16 to 512 bytes, not 9"),
        "{err}"
    );
}

/// The example alert rules: promtool accepts them, their unit tests pass, and every metric they
/// use is one the server serves.
#[test]
fn the_example_alert_rules_check_pass_their_tests_and_use_served_metrics() {
    if !crate::tools::require_tool("promtool (Debian package prometheus)", || {
        crate::tools::runs("promtool", &["--version"])
    }) {
        return;
    }
    for args in [
        vec!["check", "rules", ALERTS],
        vec!["test", "rules", ALERT_TESTS],
    ] {
        let o = std::process::Command::new("promtool")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let dir = crate::scratch::fresh_dir("alerts");
    let server = DemoServer::start(&dir, &[]);
    let served = watched_metrics(&server);
    server.stop();
    let rules = std::fs::read_to_string(ALERTS).unwrap();
    let mut used = std::collections::BTreeSet::new();
    for (i, _) in rules.match_indices("custos_") {
        let name: String = rules[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    assert!(used.len() >= 5, "{used:?}");
    for name in used {
        let base = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_count")
            .trim_end_matches("_sum");
        assert!(
            served.contains(&format!("# TYPE {base} ")),
            "the alert rules use {name}, which /metrics does not serve"
        );
    }
}
