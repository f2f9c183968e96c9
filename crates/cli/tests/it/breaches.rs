//! `custos breach ...` as an operator runs it on a real vault: a breach recorded from a JSON
//! file with its 72-hour deadline and Custos's proposal, decided, listed and drafted in Dutch for
//! the Autoriteit Persoonsgegevens with the questions still open; a record that contradicts
//! itself exits 1 naming the field, a malformed file exits 2 naming the place.

use serde_json::Value;

use crate::scratch::{Scratch, err, out};

/// The moment taken as now.
const NOW: &str = "2026-11-23T10:00:00Z";

fn breach_json(aware_at: &str) -> String {
    serde_json::json!({
        "notification": { "kind": "new" },
        "aware_at": { "value": aware_at, "source": { "kind": "person", "actor": "dpo" } },
        "kinds": { "value": ["confidentiality"], "source": { "kind": "person", "actor": "dpo" } },
        "description": { "value": "A laptop with an unencrypted customer export was stolen.",
                         "source": { "kind": "person", "actor": "dpo" } },
        "unintelligible": { "value": "not_encrypted", "source": { "kind": "person", "actor": "dpo" } },
        "subject_count": { "value": { "kind": "approximate", "n": 1200 }, "source": { "kind": "person", "actor": "dpo" } },
    })
    .to_string()
}

#[test]
fn a_breach_is_recorded_decided_listed_and_drafted_from_the_command_line() {
    let s = Scratch::new("cli-breach");
    let file = s.dir.join("breach.json");
    std::fs::write(&file, breach_json("2026-11-23T08:00:00Z")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut all = vec!["breach"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--tenant", "acme", "--now", NOW]);
        s.run(&all)
    };
    let o = run(&["record", "--file", &file]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let b: Value = serde_json::from_str(&out(&o)).expect("JSON");
    let id = b["breach_id"].as_str().unwrap().to_owned();
    assert_eq!(
        b["deadline_at"], "2026-11-26T08:00:00Z",
        "72 hours (Art. 33(1))"
    );
    assert_eq!(b["proposal"]["notify_authority"], true, "{}", b["proposal"]);
    assert!(err(&o).contains("2026-11-26T08:00:00Z"), "{}", err(&o));

    let o = run(&[
        "decide",
        &id,
        "--version",
        "1",
        "--notify-authority",
        "yes",
        "--notify-subjects",
        "yes",
        "--reasons",
        "unencrypted customer data in unknown hands",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = run(&["list"]);
    let listed: Value = serde_json::from_str(&out(&o)).expect("JSON");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["decision"]["notify_subjects"], true);

    let o = run(&["draft", &id, "--lang", "nl"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("Nog te beantwoorden"), "{text}");
    assert!(text.contains("## "), "chapters: {text}");

    // A record that contradicts itself: exit 1, the field named; a malformed one: exit 2.
    std::fs::write(
        s.dir.join("future.json"),
        breach_json("2026-12-30T08:00:00Z"),
    )
    .unwrap();
    let o = run(&[
        "record",
        "--file",
        &s.dir.join("future.json").to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("/aware_at"), "{}", err(&o));
    std::fs::write(s.dir.join("bad.json"), "{\"aware_at\": 3}").unwrap();
    let o = run(&[
        "record",
        "--file",
        &s.dir.join("bad.json").to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("aware_at"), "{}", err(&o));
}
