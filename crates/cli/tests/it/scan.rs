//! End-to-end tests of `custos scan`, driving the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn custos(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.arg("scan").args(args).env_remove("CUSTOS_PII_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the custos binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("custos runs to the end");
    writer.join().expect("stdin writer finishes");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn json_findings_carry_line_offsets_type_score_and_recognizer() {
    let input = "niets hier\nmail jan@example.nl nu\n";
    let out = custos(&["--format", "json", "-"], input.as_bytes(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each finding is one JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    let f = &lines[0];
    assert_eq!(f["line"], 2);
    assert_eq!(f["start"], 5);
    assert_eq!(f["end"], 19);
    assert_eq!(f["type"], "EMAIL");
    assert_eq!(f["recognizer"], "email_pattern");
    assert!(f["score"].as_f64().is_some_and(|s| s > 0.5));
}

#[test]
fn operator_turns_the_command_into_a_redacting_pipe_filter() {
    let input = "bel 06-12345678 of mail a@b.nl\nIBAN NL91ABNA0417164300\nlaatste regel";
    let out = custos(&["--operator", "replace"], input.as_bytes(), &[]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "bel <PHONE> of mail <EMAIL>\nIBAN <IBAN>\nlaatste regel"
    );
    assert!(
        stderr(&out).contains("EMAIL 1"),
        "summary by type: {}",
        stderr(&out)
    );
}

#[test]
fn types_limit_what_is_reported() {
    let out = custos(
        &["--types", "IBAN", "--operator", "redact"],
        b"a@b.nl NL91ABNA0417164300\n",
        &[],
    );
    assert_eq!(stdout(&out), "a@b.nl [REDACTED]\n");
}

#[test]
fn unknown_type_is_a_usage_error_naming_the_valid_types() {
    let out = custos(&["--types", "SSN"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown PII type `SSN`") && stderr(&out).contains("CREDIT_CARD")
    );
}

#[test]
fn hash_operator_needs_a_key_and_is_stable_under_it() {
    let out = custos(&["--operator", "hash"], b"a@b.nl\n", &[]);
    assert_eq!(out.status.code(), Some(2));
    let key = [("CUSTOS_PII_KEY", "k1")];
    let a = custos(&["--operator", "hash"], b"a@b.nl a@b.nl\n", &key);
    let text = stdout(&a);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0], parts[1]);
    assert!(parts[0].starts_with("EMAIL_"));
}

#[test]
fn truncate_ip_zeroes_the_last_octet_in_access_logs() {
    let log = "81.2.69.142 - - [23/Nov/2026:03:00:00 +0000] \"GET / HTTP/1.1\" 200\n";
    let out = custos(
        &["--types", "IP_ADDRESS", "--operator", "truncate-ip"],
        log.as_bytes(),
        &[],
    );
    assert!(stdout(&out).starts_with("81.2.69.0 - - ["));
}

#[test]
fn invalid_utf8_is_replaced_and_reported() {
    let out = custos(&["--operator", "replace"], b"caf\xe9 a@b.nl\n", &[]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "caf\u{FFFD} <EMAIL>\n");
    assert!(stderr(&out).contains("invalid UTF-8"));
}

#[test]
fn long_lines_without_newline_are_scanned_in_chunks_with_line_offsets() {
    let filler = "lorem ipsum dolor ".repeat(100_000);
    let input = format!("{filler}mail a@b.nl");
    let out = custos(
        &["--format", "json", "--chunk-size", "4096"],
        input.as_bytes(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let f: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON finding");
    assert_eq!(f["line"], 1);
    assert_eq!(f["start"], filler.len() + 5);
    assert_eq!(f["type"], "EMAIL");
}

#[test]
fn missing_file_is_reported_with_its_name() {
    let out = custos(&["/nonexistent/custos-scan-input.log"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/custos-scan-input.log"));
}

#[test]
fn json_lines_stay_valid_json_after_redaction() {
    let input = r#"{"level":"info","msg":"Beste Jan Jansen,\nbel 06-12345678","ip":"81.2.69.142"}"#;
    let out = custos(
        &["--operator", "replace"],
        format!("{input}\n").as_bytes(),
        &[],
    );
    let text = stdout(&out);
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("still one JSON object");
    assert_eq!(v["msg"], "Beste <PERSON>,\nbel <PHONE>");
    assert_eq!(v["ip"], "<IP_ADDRESS>");
}
