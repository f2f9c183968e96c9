//! The OpenGDPR / OpenDSR endpoint with a real vault, on SQLite and PostgreSQL: discovery,
//! intake with the deadline counted from `submitted_time`, signed responses, status, duplicates,
//! cancellation while pending, a request carried out by the DPO, status callbacks received by a
//! listener of the test's own and verified as a controller would, and every error in
//! OpenGDPR's shape without the identity values sent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json as j};

use crate::agent;
use crate::data::{Setup, json, on_postgresql, put, send, setup_on, sqlite_config, tenant};

/// A reply with its headers.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The OpenGDPR error, checked for its shape: code = status, a message, at least one item
    /// with domain, reason and message.
    fn error(&self) -> Value {
        let v = self.json();
        let e = &v["error"];
        assert_eq!(e["code"], self.status, "{}", self.body);
        assert!(e["message"].is_string(), "{}", self.body);
        let items = e["errors"].as_array().expect("errors is an array");
        assert!(!items.is_empty(), "{}", self.body);
        for i in items {
            assert!(i["domain"].is_string() && i["reason"].is_string() && i["message"].is_string());
        }
        e.clone()
    }

    /// Checks the signature in the header `header` as a controller would.
    fn verify_signature(&self, secret: &[u8], header: &str) {
        verify(secret, &self.headers[header], self.body.as_bytes());
    }

    fn reasons(&self) -> Vec<String> {
        self.error()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["reason"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn call(method: &str, url: &str, key: Option<&str>, body: Option<&[u8]>) -> Answer {
    let a = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let r = match method {
        "GET" => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("authorization", h);
            }
            r.call()
        }
        "DELETE" => {
            let mut r = a.delete(url);
            if let Some(h) = &auth {
                r = r.header("authorization", h);
            }
            r.call()
        }
        "POST" => {
            let mut r = a.post(url).header("content-type", "application/json");
            if let Some(h) = &auth {
                r = r.header("authorization", h);
            }
            r.send(body.unwrap_or(b"{}"))
        }
        m => panic!("method {m}"),
    };
    let mut r = r.expect("request completes");
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Answer {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// `GET url` with the API key `key`.
fn get_as(url: &str, key: &str) -> Answer {
    call("GET", url, Some(key), None)
}

/// `DELETE url` with the API key `key`.
fn delete_as(url: &str, key: &str) -> Answer {
    call("DELETE", url, Some(key), None)
}

/// `POST url` of the JSON `body` with the API key `key`.
fn post_as(url: &str, key: &str, body: &[u8]) -> Answer {
    call("POST", url, Some(key), Some(body))
}

/// A controller's callback endpoint: every POST it receives, with its headers (lowercase) and
/// body, answered 202.
struct Controller {
    url: String,
    received: mpsc::Receiver<(HashMap<String, String>, Vec<u8>)>,
}

impl Controller {
    fn listen() -> Controller {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!(
            "http://{}/opengdpr/callbacks",
            listener.local_addr().unwrap()
        );
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let _ = stream.write_all(
                    b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                if tx.send(request).is_err() {
                    break;
                }
            }
        });
        Controller { url, received }
    }

    /// The next callback, within 10 s.
    fn next(&self) -> (HashMap<String, String>, Vec<u8>) {
        self.received
            .recv_timeout(Duration::from_secs(10))
            .expect("a status callback arrives")
    }

    /// The next callback with its signature checked (with the secret the DPO handed over): its
    /// headers and its JSON body.
    fn next_signed(&self, secret: &[u8]) -> (HashMap<String, String>, Value) {
        let (headers, cb) = self.next();
        verify(secret, &headers["x-opengdpr-signature"], &cb);
        (headers, serde_json::from_slice(&cb).unwrap())
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST ") {
        return None;
    }
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// Checks a signature header as a controller would, with the secret the DPO handed over.
fn verify(secret: &[u8], header: &str, body: &[u8]) {
    let now = jiff::Timestamp::now().as_second();
    custos_rights::webhook::verify(
        secret,
        header,
        body,
        now,
        custos_rights::webhook::DEFAULT_TOLERANCE_SECONDS,
    )
    .expect("the signature verifies");
}

const ERASURE_ID: &str = "a7551968-d5d6-44b2-9831-815ac9017798";
const ACCESS_ID: &str = "4f6c5a3e-2b1d-4c9e-8f7a-6b5c4d3e2f1a";
const V2_ID: &str = "0c1d2e3f-4a5b-4c6d-9e8f-7a6b5c4d3e2f";

fn erasure(callback: &str) -> Value {
    j!({
        "subject_request_id": ERASURE_ID,
        "subject_request_type": "erasure",
        // Friday 20 November 2026, in the afternoon in Amsterdam.
        "submitted_time": "2026-11-20T15:00:00Z",
        "subject_identities": [
            { "identity_type": "email", "identity_value": "jan@example.nl", "identity_format": "raw" },
            { "identity_type": "controller_customer_id", "identity_value": "cust-42", "identity_format": "raw" },
            { "identity_type": "ios_advertising_id", "identity_value": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "identity_format": "raw" }
        ],
        "api_version": "1.0",
        "status_callback_urls": [callback]
    })
}

#[test]
fn an_opengdpr_request_is_filed_followed_and_cancelled() {
    opengdpr_end_to_end(&setup_on(sqlite_config("opengdpr")));
}

#[test]
fn an_opengdpr_request_is_filed_followed_and_cancelled_on_postgresql() {
    on_postgresql("opengdpr", |c| opengdpr_end_to_end(&setup_on(c)));
}

fn opengdpr_end_to_end(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, auditor) = tenant(s, "acme");
    let controller = Controller::listen();

    // Discovery: public, honest about what is supported, no certificate claimed.
    let d = call("GET", &url("/v1/discovery"), None, None);
    assert_eq!(d.status, 200, "{}", d.body);
    let v = d.json();
    assert_eq!(v["api_version"], "1.0");
    assert_eq!(
        v["supported_identities"],
        j!([
            { "identity_type": "controller_customer_id", "identity_format": "raw" },
            { "identity_type": "email", "identity_format": "raw" }
        ])
    );
    assert_eq!(
        v["supported_subject_request_types"],
        j!(["erasure", "access", "portability"])
    );
    assert!(v.get("processor_certificate").is_none());
    assert_eq!(d.headers["x-opengdpr-processor-domain"], "127.0.0.1");

    // The secret the DPO hands to the controller's system (dpo keys only).
    assert_eq!(
        get_as(&url("/v1/opengdpr/callback_secret"), &app).status,
        403
    );
    let r = get_as(&url("/v1/opengdpr/callback_secret"), &dpo);
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = hex::decode(r.json()["secret"].as_str().unwrap()).unwrap();
    assert_eq!(secret.len(), 32);

    // Intake: 201, the deadline counted from submitted_time, the body echoed in base64, signed.
    let body = erasure(&controller.url).to_string();
    let r = post_as(&url("/v1/opengdpr_requests"), &app, body.as_bytes());
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(v["controller_id"], "acme");
    assert_eq!(v["subject_request_id"], ERASURE_ID);
    // Art. 12(3) GDPR, Reg. 1182/71 Art. 3: received Friday 20 November 2026, one month ends on
    // Sunday 20 December, so at the end of Monday 21 December (Amsterdam, UTC+1).
    assert_eq!(v["expected_completion_time"], "2026-12-21T22:59:59Z");
    assert!(
        v["received_time"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v["encoded_request"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, body.as_bytes());
    assert_eq!(r.headers["x-opengdpr-processor-domain"], "127.0.0.1");
    r.verify_signature(&secret, "x-opengdpr-signature");

    // The first callback: pending, signed, echoing the controller's own URL.
    let (headers, cb) = controller.next_signed(&secret);
    assert_eq!(headers["x-opengdpr-processor-domain"], "127.0.0.1");
    assert_eq!(cb["controller_id"], "acme");
    assert_eq!(cb["status_callback_url"], controller.url.as_str());
    assert_eq!(cb["subject_request_id"], ERASURE_ID);
    assert_eq!(cb["request_status"], "pending");
    assert_eq!(cb["expected_completion_time"], "2026-12-21T22:59:59Z");

    // In Custos it is an ordinary request, verified by attestation, under the same id.
    let hex_id = ERASURE_ID.replace('-', "");
    let r = send("GET", &url(&format!("/v1/requests/{hex_id}")), &dpo, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["request"]["kind"], "erasure");
    assert_eq!(v["request"]["state"], "verified");
    assert_eq!(v["request"]["received_on"], "2026-11-20");
    assert_eq!(v["request"]["detail"]["channel"], "opengdpr");
    assert_eq!(
        v["request"]["detail"]["verified_by"],
        "OpenGDPR controller (authenticated API key)"
    );
    assert!(
        !r.body.contains("cust-42") && !r.body.contains("jan@example.nl"),
        "{}",
        r.body
    );

    // Status: pending, for app and auditor keys alike; signed.
    for key in [&app, &auditor] {
        let r = get_as(&url(&format!("/v1/opengdpr_requests/{ERASURE_ID}")), key);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["request_status"], "pending");
        assert_eq!(v["controller_id"], "acme");
        assert_eq!(v["api_version"], "1.0");
        assert_eq!(v["expected_completion_time"], "2026-12-21T22:59:59Z");
        r.verify_signature(&secret, "x-opengdpr-signature");
    }
    // An auditor may read but not file.
    let r = post_as(&url("/v1/opengdpr_requests"), &auditor, body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.reasons(), ["forbidden"]);

    // The same subject_request_id again, and a new id for the same open erasure: 409.
    let r = post_as(&url("/v1/opengdpr_requests"), &app, body.as_bytes());
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.reasons(), ["duplicate"]);
    let mut again = erasure(&controller.url);
    again["subject_request_id"] = "9b2e8c4a-1f3d-4e5a-a6b7-c8d9e0f1a2b3".into();
    let r = post_as(
        &url("/v1/opengdpr_requests"),
        &app,
        again.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.reasons(), ["duplicate"]);
    assert!(!r.body.contains("cust-42"), "{}", r.body);

    // Unknown ids: 404; a request filed through Custos's own route is not an OpenGDPR one.
    let r = get_as(
        &url("/v1/opengdpr_requests/1b2e8c4a-1f3d-4e5a-a6b7-c8d9e0f1a2b3"),
        &app,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.reasons(), ["not_found"]);
    let r = get_as(&url("/v1/opengdpr_requests/not-a-uuid"), &app);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.reasons(), ["invalid_value"]);

    // A change the DPO makes through Custos's own routes is announced too: the extension moves
    // the expected completion time by two months (Art. 12(3)).
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{hex_id}/extend")),
        &dpo,
        Some(j!({ "reason": "records in several systems" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, cb) = controller.next_signed(&secret);
    assert_eq!(cb["request_status"], "pending");
    assert_ne!(
        cb["expected_completion_time"], "2026-12-21T22:59:59Z",
        "{cb}"
    );

    // Cancellation while pending: 202, a cancelled callback, and the request refused in Custos.
    let r = delete_as(&url(&format!("/v1/opengdpr_requests/{ERASURE_ID}")), &app);
    assert_eq!(r.status, 202, "{}", r.body);
    let v = r.json();
    assert_eq!(v["subject_request_id"], ERASURE_ID);
    assert_eq!(v["controller_id"], "acme");
    assert!(v["received_time"].is_string());
    r.verify_signature(&secret, "x-opengdpr-signature");
    let (_, cb) = controller.next_signed(&secret);
    assert_eq!(cb["request_status"], "cancelled");
    let r = get_as(&url(&format!("/v1/opengdpr_requests/{ERASURE_ID}")), &app);
    assert_eq!(r.json()["request_status"], "cancelled");
    let r = send("GET", &url(&format!("/v1/requests/{hex_id}")), &dpo, None);
    let v = json(&r);
    assert_eq!(v["request"]["state"], "refused");
    assert_eq!(
        v["request"]["detail"]["refusal"]["reason"],
        "cancelled by the controller"
    );
    // Only once.
    let r = delete_as(&url(&format!("/v1/opengdpr_requests/{ERASURE_ID}")), &app);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.reasons(), ["not_pending"]);

    // Access by email only: the DPO carries it out through the normal route; then completed,
    // and no longer cancellable.
    let who = "piet@example.nl";
    assert_eq!(put(s, &app, who, "a question").status, 201);
    let access = j!({
        "subject_request_id": ACCESS_ID,
        "subject_request_type": "access",
        "submitted_time": jiff::Timestamp::now().to_string(),
        "subject_identities": [{ "identity_type": "email", "identity_value": who, "identity_format": "raw" }]
    });
    let r = post_as(
        &url("/v1/opengdpr_requests"),
        &app,
        access.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let access_hex = ACCESS_ID.replace('-', "");
    let resp = agent()
        .post(&url(&format!("/v1/requests/{access_hex}/execute")))
        .header("authorization", &format!("Bearer {dpo}"))
        .header("content-type", "application/json")
        .send(j!({ "subject": who }).to_string().as_bytes())
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    let zip = resp.into_body().read_to_vec().unwrap();
    assert!(zip.starts_with(b"PK"));
    let r = get_as(&url(&format!("/v1/opengdpr_requests/{ACCESS_ID}")), &app);
    assert_eq!(r.json()["request_status"], "completed", "{}", r.body);
    let r = delete_as(&url(&format!("/v1/opengdpr_requests/{ACCESS_ID}")), &app);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.reasons(), ["not_pending"]);

    // OpenDSR 2.0: the /v2 routes, `regulation` required, its own header names. A callback URL
    // where nothing listens does not fail the request.
    let v2 = j!({
        "regulation": "gdpr",
        "subject_request_id": V2_ID,
        "subject_request_type": "portability",
        "submitted_time": jiff::Timestamp::now().to_string(),
        "subject_identities": [{ "identity_type": "controller_customer_id", "identity_value": "cust-7", "identity_format": "raw" }],
        "api_version": "2.0",
        "status_callback_urls": ["http://127.0.0.1:1/nobody-listens"]
    });
    let r = post_as(&url("/v2/requests"), &app, v2.to_string().as_bytes());
    assert_eq!(r.status, 201, "{}", r.body);
    r.verify_signature(&secret, "x-opendsr-signature");
    assert_eq!(r.headers["x-opendsr-processor-domain"], "127.0.0.1");
    let r = get_as(&url(&format!("/v2/requests/{V2_ID}")), &app);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["api_version"], "2.0");
    assert_eq!(r.json()["request_status"], "pending");
    // The DPO's extension (Art. 12(3)) moves the expected completion to the end of the new date.
    let v2_hex = V2_ID.replace('-', "");
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{v2_hex}/extend")),
        &dpo,
        Some(j!({ "reason": "the portability export spans three systems" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let due = json(&r)["request"]["due_on"].as_str().unwrap().to_owned();
    let r = get_as(&url(&format!("/v2/requests/{V2_ID}")), &app);
    let expected = r.json()["expected_completion_time"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        expected.starts_with(&format!("{due}T2")),
        "{expected} for {due}"
    );
    let d = call("GET", &url("/v2/discovery"), None, None);
    assert_eq!(d.json()["api_version"], "2.0");

    // Another tenant's key sees none of it.
    let (other_app, _, _) = tenant(s, "globex");
    let r = get_as(&url(&format!("/v1/opengdpr_requests/{V2_ID}")), &other_app);
    assert_eq!(r.status, 404, "{}", r.body);
    let r = delete_as(&url(&format!("/v1/opengdpr_requests/{V2_ID}")), &other_app);
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn bad_opengdpr_bodies_are_errors_in_its_shape_that_name_the_field_and_file_nothing() {
    let s = setup_on(sqlite_config("opengdpr-bad"));
    let url = |p: &str| s.server.url(p);
    let (app, dpo, _) = tenant(&s, "acme");
    let post = |key: Option<&str>, body: &str| {
        call(
            "POST",
            &url("/v1/opengdpr_requests"),
            key,
            Some(body.as_bytes()),
        )
    };
    let valid = erasure("https://controller.example/callbacks");
    let with = |field: &str, value: Value| {
        let mut v = valid.clone();
        if value.is_null() {
            v.as_object_mut().unwrap().remove(field);
        } else {
            v[field] = value;
        }
        v.to_string()
    };
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        ("{not json".into(), vec!["invalid_json"], "not JSON"),
        ("[1, 2]".into(), vec!["invalid_json"], "object"),
        (
            with("subject_request_id", Value::Null),
            vec!["required"],
            "subject_request_id",
        ),
        (
            with(
                "subject_request_id",
                "A7551968-D5D6-44B2-9831-815AC9017798".into(),
            ),
            vec!["invalid_value"],
            "lowercase UUID",
        ),
        (
            with("subject_request_type", "rectification".into()),
            vec!["unsupported_value"],
            "subject_request_type",
        ),
        (
            with("submitted_time", "20/11/2026".into()),
            vec!["invalid_value"],
            "submitted_time",
        ),
        (
            with("submitted_time", Value::Null),
            vec!["required"],
            "submitted_time",
        ),
        (
            with("subject_identities", j!([])),
            vec!["invalid_value"],
            "at least one",
        ),
        (
            with(
                "subject_identities",
                j!([{ "identity_type": "email", "identity_value": "jan@example.nl", "identity_format": "sha256" }]),
            ),
            vec!["unsupported_identity"],
            "controller_customer_id",
        ),
        (
            with(
                "subject_identities",
                j!([{ "identity_type": "email", "identity_value": "jan@example.nl" }]),
            ),
            vec!["invalid_value"],
            "identity_format",
        ),
        (
            with("status_callback_urls", j!(["javascript:alert(1)"])),
            vec!["invalid_value"],
            "status_callback_urls[0]",
        ),
        (
            with("regulation", "ccpa".into()),
            vec!["unsupported_value"],
            "gdpr",
        ),
    ];
    for (body, reasons, mentions) in cases {
        let r = post(Some(&app), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.reasons(), reasons, "{body}: {}", r.body);
        assert!(r.body.contains(mentions), "{body}: {}", r.body);
        for value in ["jan@example.nl", "cust-42", "A7551968", "20/11/2026"] {
            assert!(!r.body.contains(value), "{value} echoed: {}", r.body);
        }
    }
    // Several faults at once: each is named.
    let r = post(
        Some(&app),
        &j!({ "subject_request_type": "erasure", "subject_identities": [] }).to_string(),
    );
    assert_eq!(r.reasons(), ["required", "required", "invalid_value"]);

    // Without a key, or with a wrong one: 401 in the same shape.
    let r = post(None, &valid.to_string());
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.reasons(), ["unauthenticated"]);
    let r = get_as(
        &url(&format!("/v1/opengdpr_requests/{ERASURE_ID}")),
        "cst_wrong",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.reasons(), ["unauthenticated"]);

    // Nothing was filed.
    let r = send("GET", &url("/v1/requests?all=true"), &dpo, None);
    assert_eq!(json(&r), j!([]), "{}", r.body);
}
