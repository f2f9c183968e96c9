//! `custos serve --demo` as a newcomer runs it: it prints a URL and a key that work, and its
//! logs hold no personal data from the requests it served.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::scratch::CLEAN_POLICY;

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
    for _ in 0..20 {
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
    // The two faces come first: the privacy center and the console with a demo account.
    for shown in [
        "/center/demo",
        "/console",
        "demo account:    name demo-dpo-",
        "otpauth://totp/",
    ] {
        assert!(printed.contains(shown), "{shown} in {printed}");
    }
    assert!(printed.contains("dpo key (tenant demo):"), "{printed}");
    // The printed flags reach the demo's database from the command line.
    let flags = printed
        .lines()
        .find_map(|l| {
            l.split_once("custos key list ")
                .map(|(_, f)| f.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no command-line flags printed:\n{printed}"));
    let listed = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["key", "list"])
        .args(flags.split_whitespace())
        .current_dir(&dir)
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap();
    let listed_out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && listed_out.contains(&key[4..20]) && listed_out.contains("dpo"),
        "{listed_out}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
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
    // The demo runs the example with the one gap its statement has, accepted and reported.
    let ready = agent
        .get(&format!("{base}/readyz"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        ready.contains("\"code\":\"C101\"") && ready.contains("jbsync.toml"),
        "{ready}"
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
        .send(
            &br#"{"subject": "marieke.vdberg@example.nl", "category": "Marieke van der Berg"}"#[..],
        )
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

/// A policy that passes `custos check`, and the same without the purpose's legal basis (C101 at
/// line 13, column 6).
fn policies(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(dir.join("clean.toml"), CLEAN_POLICY).unwrap();
    let lax = dir.join("lax.toml");
    std::fs::write(&lax, CLEAN_POLICY.replace("basis = \"contract\"\n", "")).unwrap();
    lax
}

/// `custos serve --config FILE`'s exit status and standard error; `None` if it was still
/// running (it started) after 30 seconds, and was stopped.
fn serve_exit(dir: &std::path::Path, config: &std::path::Path) -> Option<(i32, String)> {
    let mut child = crate::access::serve_command(dir, config)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("err.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(30) {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(dir.join("err.log")).unwrap_or_default();
            return Some((status.code().unwrap_or(-1), err));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn serve_refuses_a_policy_with_an_error_finding_and_names_its_code_and_place() {
    let s = crate::scratch::Scratch::new("serve-gate");
    let lax = policies(&s.dir);
    let config = s.dir.join("custos.toml");
    for accepted_elsewhere in [
        "",
        "[[accept_finding]]\ncode = \"C101\"\nreason = \"x\"\nline = 99\n",
    ] {
        std::fs::write(
            &config,
            format!(
                "policy = {:?}\ndatabase = \"custos.db\"\nkey_file = \"custos.key\"\n{accepted_elsewhere}",
                lax.display().to_string()
            ),
        )
        .unwrap();
        let (code, err) = serve_exit(&s.dir, &config)
            .expect("custos serve started on a policy that fails `custos check`");
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("error[C101]"), "{err}");
        assert!(err.contains("lax.toml:13:6"), "{err}");
        assert!(
            err.contains("[[accept_finding]]"),
            "says how to accept it: {err}"
        );
    }
}

#[test]
fn serve_runs_a_policy_with_an_accepted_finding_and_readyz_lists_it_with_the_reason() {
    let s = crate::scratch::Scratch::new("serve-accepted");
    let lax = policies(&s.dir);
    let config = s.dir.join("custos.toml");
    let reason = "the DPO decided on 2026-12-01 that the basis is added in the next version";
    std::fs::write(
        &config,
        format!(
            "policy = {:?}\ndatabase = \"custos.db\"\nkey_file = \"custos.key\"\nlog_format = \"text\"\n[[accept_finding]]\ncode = \"C101\"\nreason = {reason:?}\nline = 13\n",
            lax.display().to_string()
        ),
    )
    .unwrap();
    let server = crate::access::serve(&s.dir, &config, "serve.log");
    let mut r = ureq::get(&format!("{}/readyz", server.base))
        .call()
        .unwrap();
    let ready: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let accepted = &ready["accepted_findings"];
    assert_eq!(accepted.as_array().map(Vec::len), Some(1), "{ready}");
    assert_eq!(accepted[0]["code"], "C101", "{ready}");
    assert_eq!(accepted[0]["reason"], reason, "{ready}");
    assert!(
        accepted[0]["at"]
            .as_str()
            .unwrap_or_default()
            .ends_with("lax.toml:13:6"),
        "{ready}"
    );
    drop(server);
    let logs = std::fs::read_to_string(s.dir.join("serve.log")).unwrap();
    assert!(logs.contains("C101") && logs.contains(reason), "{logs}");
}
