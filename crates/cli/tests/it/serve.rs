//! `custos serve --demo` as a newcomer runs it: it prints a URL and a key that work, and its
//! logs hold no personal data from the requests it served.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn the_demo_server_prints_a_working_key_and_logs_no_personal_data() {
    let dir = std::env::temp_dir().join(format!("custos-it-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .env_remove("CUSTOS_MASTER_KEY")
        .env_remove("CUSTOS_POLICY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("custos serve starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let mut app_key = None;
    for _ in 0..10 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(k) = line.trim().strip_prefix("app key (tenant demo):") {
            app_key = Some(k.trim().to_owned());
        }
        printed.push_str(&line);
        if line.contains("try: curl") {
            break;
        }
    }
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}")),
        "{printed}"
    );
    let key = app_key.unwrap_or_else(|| panic!("no app key printed:\n{printed}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let auth = format!("Bearer {key}");
    let list = agent
        .post(&format!("{base}/v1/records/query"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .send(&br#"{"subject":"jan@example.nl"}"#[..])
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        list.contains("Vraag over factuur"),
        "the demo tenant has a few subjects: {list}"
    );
    let body = serde_json::json!({ "subject": "marieke.vdberg@example.nl", "category": "support", "purposes": ["support"], "data": { "name": "Marieke van der Berg", "phone": "+31 6 11223344" } });
    let mut r = agent
        .post(&format!("{base}/v1/records"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "{}",
        r.body_mut().read_to_string().unwrap_or_default()
    );
    // A bad request too: its problem must not land in the logs with the value either.
    agent
        .post(&format!("{base}/v1/records"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .send(&br#"{"subject": "marieke.vdberg@example.nl", "category": "Marieke van der Berg"}"#[..])
        .unwrap();

    // SIGTERM: graceful shutdown, exit 0.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    assert!(
        logs.contains("\"route\":\"/v1/records\""),
        "request lines are logged by route template:\n{logs}"
    );
    for personal in [
        "marieke",
        "Marieke",
        "van der Berg",
        "11223344",
        "jan@example.nl",
        &key,
    ] {
        assert!(
            !logs.contains(personal),
            "`{personal}` appears in the logs:\n{logs}"
        );
    }
}
