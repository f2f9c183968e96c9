//! The application's own webhook (`docs/integration.md`): when Custos purges or erases records,
//! the application hears which, signed like the Art. 19 notices, so it can drop its copies.

use std::time::Duration;

use crate::demo_server::DemoServer;

const SECRET: &str = "the application's webhook secret";

fn next_event(hook: &crate::monitoring::Receiver) -> serde_json::Value {
    let (headers, body) = hook
        .got
        .recv_timeout(Duration::from_secs(20))
        .expect("an event arrives");
    let signature = headers
        .iter()
        .find(|(k, _)| k == "custos-signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    custos_rights::webhook::verify(
        SECRET.as_bytes(),
        &signature,
        &body,
        jiff::Timestamp::now().as_second(),
        300,
    )
    .expect("signed with the application's secret");
    let text = String::from_utf8(body).unwrap();
    for personal in [
        "jan@example.nl",
        "an@example.com",
        "piet@example.nl",
        "pseudonym",
        "subject\"",
    ] {
        assert!(!text.contains(personal), "`{personal}` in an event: {text}");
    }
    serde_json::from_str(&text).unwrap()
}

fn record_ids(server: &DemoServer, who: &str) -> Vec<String> {
    let (status, body) = server.post(
        &server.app,
        "/v1/records/query",
        &serde_json::json!({ "subject": who }),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_application_hears_which_records_an_erasure_and_a_purge_deleted() {
    let dir = crate::scratch::fresh_dir("app-events");
    let hook = crate::monitoring::receiver();
    let server = DemoServer::start_with_env(
        &dir,
        &[],
        &[
            ("CUSTOS_NOTIFY_INTERVAL", "1 second"),
            ("CUSTOS_PURGE_INTERVAL", "off"),
        ],
    );
    let jan = record_ids(&server, "jan@example.nl");
    let others = [
        record_ids(&server, "an@example.com"),
        record_ids(&server, "piet@example.nl"),
    ]
    .concat();
    assert_eq!((jan.len(), others.len()), (1, 2));

    let mut r = crate::demo_server::agent()
        .put(&format!("{}/v1/app/webhook", server.base))
        .header("authorization", &format!("Bearer {}", server.app))
        .header("content-type", "application/json")
        .send(
            serde_json::json!({ "url": hook.url, "secret": SECRET })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap_or_default()
    );

    // An erasure: the event names jan's record.
    let (status, body) = server.post(
        &server.dpo,
        "/v1/subjects/erase",
        &serde_json::json!({ "subject": "jan@example.nl" }),
    );
    assert_eq!(status, 200, "{body}");
    let e = next_event(&hook);
    assert_eq!(e["type"], "subject.erased", "{e}");
    assert_eq!(e["tenant"], "demo");
    assert_eq!(e["records"], serde_json::json!(jan), "{e}");
    assert_eq!(e["restricted"], serde_json::json!([]), "{e}");

    // A purge when the support records' 24 months have passed: the event names the others.
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/jbsync.toml"
    );
    crate::scratch::succeeded(&crate::demo_server::custos_in(
        &dir,
        &[
            "purge",
            "--db",
            "custos-demo.db",
            "--key-file",
            "custos-demo.key",
            "--now",
            "2030-01-01T00:00:00Z",
            "--policy",
            policy,
        ],
    ));
    let p = next_event(&hook);
    assert_eq!(p["type"], "records.purged", "{p}");
    let mut purged: Vec<String> = p["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    purged.sort();
    let mut expected = others.clone();
    expected.sort();
    assert_eq!(purged, expected, "{p}");
    assert_eq!(p["categories"], serde_json::json!(["support"]));
    server.stop();
}
