//! Access and portability answers read from the vault (Art. 15, 20 GDPR): records streamed in
//! keyset-paged batches (restricted ones included and marked), and the answer archive written
//! from them, opened with a standard zip tool and checked against the policy.

use std::collections::BTreeSet;
use std::path::PathBuf;

use custos_policy::Lang;
use custos_rights::archive::{AnswerKind, Written};
use custos_vault::export::{PAGE, SubjectRecord};
use custos_vault::rights::RequestKind;
use custos_vault::{NewRecord, TenantVault, VaultError};

use crate::harness::{
    Backend, audit_entries, file_request_id, new_request, policy, record_for, scratch, subject,
    tenant, ts, verify_attested,
};
use crate::unzip::extract;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn rec(who: &str, category: &str, purpose: &str, created_at: &str, payload: String) -> NewRecord {
    record_for(who, category, purpose, payload, ts(created_at))
}

fn all_records(t: &mut TenantVault<'_>, who: &str) -> Vec<SubjectRecord> {
    let mut out = Vec::new();
    let n = t
        .for_each_record(&subject(who), |r| -> Result<(), VaultError> {
            out.push(r);
            Ok(())
        })
        .expect("the records stream");
    assert_eq!(n as usize, out.len());
    out
}

/// Writes an answer into a scratch directory and extracts it with a standard tool (`unzip`, or
/// Python's `zipfile`, both of which check every CRC). Returns the extracted directory.
fn answer(t: &mut TenantVault<'_>, who: &str, kind: AnswerKind, case: &str) -> (PathBuf, Written) {
    let dir = scratch(&format!("answer-{case}"));
    let zip = dir.join("answer.zip");
    let file = std::fs::File::create(&zip).expect("answer file");
    let written = t
        .write_answer::<AnyError>(
            &policy(),
            &subject(who),
            kind,
            Lang::En,
            ts("2026-11-23T10:00:00Z"),
            file,
        )
        .expect("the answer is written");
    assert_eq!(
        std::fs::metadata(&zip).expect("answer file").len(),
        written.bytes
    );
    let out = dir.join("out");
    extract(&zip, &out);
    (out, written)
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(&path).expect("file in the answer")).expect("JSON")
}

pub fn records_stream_in_pages_oldest_first_and_only_the_subjects(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    // More than two pages, with ties on the creation time across page boundaries (the keyset
    // falls back on the record id).
    let n = 2 * PAGE + PAGE / 2;
    let mut batch: Vec<NewRecord> = (0..n)
        .map(|i| {
            let at = format!("2026-11-{:02}T10:00:00Z", 1 + (i % 3));
            rec("ann", "support", "support", &at, format!("{{\"n\":{i}}}"))
        })
        .collect();
    batch.push(rec(
        "bob",
        "support",
        "support",
        "2026-11-01T09:00:00Z",
        "{\"n\":-1}".into(),
    ));
    t.put_batch(&p, batch, jiff::Timestamp::now())
        .expect("stored");

    let got = all_records(&mut t, "ann");
    assert_eq!(got.len(), n, "every record once, none of another subject");
    let keys: Vec<_> = got
        .iter()
        .map(|r| (r.record.created_at, r.record.id.as_str().to_owned()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "oldest first, no record twice");
    let ns: BTreeSet<i64> = got
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.record.payload).expect("JSON");
            v["n"].as_i64().expect("n")
        })
        .collect();
    assert_eq!(ns, (0..n as i64).collect(), "decrypted payloads");
    assert!(got.iter().all(|r| r.restriction.is_none()));
    assert!(all_records(&mut t, "nobody").is_empty());
}

pub fn an_access_answer_for_a_jbsync_subject_lists_every_purpose_recipient_and_retention(
    b: &Backend,
) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = "klant@example.nl";
    let mine = [
        ("account", "service"),
        ("billing", "billing"),
        ("support", "support"),
        ("usage_log", "security"),
    ];
    let batch = mine
        .iter()
        .enumerate()
        .map(|(i, (c, purpose))| {
            rec(
                who,
                c,
                purpose,
                "2026-10-01T08:00:00Z",
                format!("{{\"i\":{i},\"note\":\"<script>x</script>\"}}"),
            )
        })
        .chain([rec(
            "ander@example.nl",
            "cookie",
            "cookies",
            "2026-10-01T08:00:00Z",
            "{}".into(),
        )])
        .collect();
    t.put_batch(&p, batch, jiff::Timestamp::now())
        .expect("stored");

    let (out, written) = answer(
        &mut t,
        who,
        AnswerKind::Access,
        &format!("jbsync-{}", b.kind),
    );
    assert_eq!(written.records, 4);
    let data = json(out.join("data.json"));
    let info = &data["information"];
    let ids = |key: &str| -> BTreeSet<String> {
        info[key]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|x| x["id"].as_str().map(str::to_owned))
            .collect()
    };
    let covers = |cats: &[String]| {
        cats.iter().any(|pc| {
            mine.iter()
                .any(|(c, _)| c == pc || c.starts_with(&format!("{pc}.")))
        })
    };
    // Art. 15(1)(a): every purpose the policy gives for the subject's categories.
    let purposes: Vec<_> = p
        .purposes
        .iter()
        .filter(|x| covers(&x.categories))
        .collect();
    assert!(purposes.len() >= 4);
    for purpose in &purposes {
        assert!(
            ids("purposes").contains(&purpose.id),
            "purpose {} missing",
            purpose.id
        );
    }
    assert_eq!(
        ids("purposes").len(),
        purposes.len(),
        "no purpose of other data"
    );
    // Art. 15(1)(c): every recipient of those purposes and every recipient of those categories.
    let recipients: BTreeSet<String> = purposes
        .iter()
        .flat_map(|x| x.recipients.iter().cloned())
        .chain(
            p.recipients
                .iter()
                .filter(|r| covers(&r.categories))
                .map(|r| r.id.clone()),
        )
        .collect();
    assert!(!recipients.is_empty());
    assert_eq!(ids("recipients"), recipients);
    // Art. 15(1)(d): the retention of every category, in words, with the policy's period.
    let categories = info["categories"].as_array().expect("categories");
    assert_eq!(categories.len(), mine.len());
    for (c, period) in [
        ("account", "7 years"),
        ("billing", "7 years"),
        ("support", "24 months"),
        ("usage_log", "12 months"),
    ] {
        let item = categories
            .iter()
            .find(|x| x["id"] == c)
            .unwrap_or_else(|| panic!("category {c} missing"));
        let retention = item["retention"].as_str().expect("retention");
        assert!(
            retention.contains(period),
            "{c}: `{retention}`, not {period}"
        );
    }
    assert!(info["rights"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(
        info["authorities"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    let csv = std::fs::read_to_string(out.join("data.csv")).expect("data.csv");
    assert_eq!(csv.lines().count(), 1 + 4);
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script>"), "record content is escaped");
    for purpose in &purposes {
        let name = purpose.name.get_or_any(Lang::En);
        if name.chars().all(|c| c.is_alphanumeric() || c == ' ') {
            assert!(html.contains(name), "the report names purpose {name}");
        }
    }
    assert_eq!(
        html.matches("<article class=\"record\">").count(),
        4,
        "one row per record"
    );
}

pub fn an_access_answer_includes_records_kept_under_restriction_marked(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("operator");
    let who = "oud@example.nl";
    t.put_batch(
        &p,
        vec![
            rec(
                who,
                "account",
                "service",
                "2026-01-01T00:00:00Z",
                "{\"a\":1}".into(),
            ),
            rec(
                who,
                "support",
                "support",
                "2026-01-02T00:00:00Z",
                "{\"s\":1}".into(),
            ),
        ],
        jiff::Timestamp::now(),
    )
    .expect("stored");
    let id = file_request_id(
        &mut t,
        &p,
        new_request(RequestKind::Erasure, who, None, "2026-03-02"),
    );
    verify_attested(&mut t, &id, "signed-in session", ts("2026-03-02T11:00:00Z"));
    t.execute_erasure(&p, &id, &subject(who), ts("2026-03-02T12:00:00Z"))
        .expect("erased, account data kept for the tax law");

    let got = all_records(&mut t, who);
    assert_eq!(
        got.len(),
        1,
        "the support record is gone, the account record kept"
    );
    assert_eq!(got[0].record.category, "account");
    assert_eq!(got[0].restriction.as_deref(), Some("Art. 17(3)(b) GDPR"));

    let (out, written) = answer(
        &mut t,
        who,
        AnswerKind::Access,
        &format!("restricted-{}", b.kind),
    );
    assert_eq!(written.records, 1);
    let data = json(out.join("data.json"));
    assert_eq!(data["records"][0]["restriction"], "Art. 17(3)(b) GDPR");
    assert_eq!(data["records"][0]["data"], serde_json::json!({ "a": 1 }));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("restricted (Art. 17(3)(b) GDPR)"));
}

pub fn a_portability_answer_holds_only_provided_data_on_consent_or_contract(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = "klant@example.nl";
    t.put_batch(
        &p,
        vec![
            // Given by the customer, on contract: portable.
            rec(
                who,
                "support",
                "support",
                "2026-10-01T08:00:00Z",
                "{\"q\":1}".into(),
            ),
            // Observed, but kept for security on legitimate interest: not portable.
            rec(
                who,
                "usage_log",
                "security",
                "2026-10-01T08:01:00Z",
                "{\"l\":1}".into(),
            ),
            // Account data on contract, given by the customer: portable.
            rec(
                who,
                "account",
                "service",
                "2026-10-01T08:02:00Z",
                "{\"a\":1}".into(),
            ),
        ],
        jiff::Timestamp::now(),
    )
    .expect("stored");
    let (out, written) = answer(
        &mut t,
        who,
        AnswerKind::Portability,
        &format!("port-{}", b.kind),
    );
    assert_eq!(written.files, ["data.json", "data.csv"]);
    assert!(!out.join("report.html").exists());
    let data = json(out.join("data.json"));
    let cats: Vec<&str> = data["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["category"].as_str())
        .collect();
    assert_eq!(cats, ["support", "account"]);
    assert_eq!(written.records, 2);
}

pub fn an_answer_is_audited_with_counts_and_the_pseudonym_only(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("operator");
    let who = "geheim@example.nl";
    t.put_batch(
        &p,
        vec![rec(
            who,
            "support",
            "support",
            "2026-10-01T08:00:00Z",
            "{\"secret\":\"s3cr3t-payload\"}".into(),
        )],
        jiff::Timestamp::now(),
    )
    .expect("stored");
    answer(
        &mut t,
        who,
        AnswerKind::Access,
        &format!("audit-{}", b.kind),
    );
    let pseudonym = t.pseudonym(&subject(who));
    let entries = audit_entries(&mut t, None, 100);
    let e = entries
        .iter()
        .find(|e| e.action == "subject.answer")
        .expect("the answer is audited");
    assert_eq!(e.subject.as_deref(), Some(pseudonym.as_str()));
    assert_eq!(e.actor, "operator");
    let details: serde_json::Value = serde_json::from_str(&e.details).expect("JSON details");
    assert_eq!(details["records"], 1);
    assert_eq!(details["kind"], "access");
    assert_eq!(details["completed"], true);
    let text = serde_json::to_string(&entries).expect("JSON");
    assert!(!text.contains(who) && !text.contains("s3cr3t"));
}

pub fn an_unknown_subject_gets_an_empty_answer_of_the_same_shape(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    t.put_batch(
        &p,
        vec![rec(
            "bekend@example.nl",
            "support",
            "support",
            "2026-10-01T08:00:00Z",
            "{}".into(),
        )],
        jiff::Timestamp::now(),
    )
    .expect("stored");
    let (out, written) = answer(
        &mut t,
        "onbekend@example.nl",
        AnswerKind::Access,
        &format!("unknown-{}", b.kind),
    );
    assert_eq!(written.records, 0);
    assert_eq!(written.files, ["data.json", "data.csv", "report.html"]);
    let data = json(out.join("data.json"));
    assert_eq!(data["records"], serde_json::json!([]));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("We hold 0 records about you"));
}

pub fn a_record_that_fails_to_decrypt_fails_the_answer_naming_it(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = "klant@example.nl";
    let ids = t
        .put_batch(
            &p,
            (0..3)
                .map(|i| {
                    rec(
                        who,
                        "support",
                        "support",
                        &format!("2026-10-01T08:0{i}:00Z"),
                        format!("{{\"i\":{i}}}"),
                    )
                })
                .collect(),
            jiff::Timestamp::now(),
        )
        .expect("stored");
    let mut bad = b.ciphertext("acme", ids[1].as_str());
    let last = bad.len() - 1;
    bad[last] ^= 1;
    b.set_ciphertext("acme", ids[1].as_str(), &bad);

    let err = t
        .write_answer::<AnyError>(
            &policy(),
            &subject(who),
            AnswerKind::Access,
            Lang::En,
            ts("2026-11-23T10:00:00Z"),
            std::io::sink(),
        )
        .expect_err("a record that does not decrypt fails the answer");
    assert!(
        matches!(err.downcast_ref::<VaultError>(), Some(VaultError::Decrypt(id)) if *id == ids[1]),
        "{err}"
    );
    let entries = audit_entries(&mut t, Some("subject.answer"), 10);
    let details: serde_json::Value =
        serde_json::from_str(&entries.last().expect("audited").details).expect("JSON");
    assert_eq!(details["completed"], false);
}

/// Accepts `left` bytes, then fails every write, as a full disk or a closed connection would.
struct FailingAfter {
    left: usize,
}

impl std::io::Write for FailingAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn an_output_that_fails_midway_fails_the_answer_and_nothing_hangs(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = "klant@example.nl";
    // More records than a page and the channel between reader and writer hold together.
    let n = 3 * PAGE;
    t.put_batch(
        &p,
        (0..n)
            .map(|i| {
                rec(
                    who,
                    "support",
                    "support",
                    "2026-10-01T08:00:00Z",
                    format!("{{\"i\":{i},\"text\":\"{}\"}}", "x".repeat(200)),
                )
            })
            .collect(),
        jiff::Timestamp::now(),
    )
    .expect("stored");
    for left in [0, 100, 300_000] {
        let err = t
            .write_answer::<AnyError>(
                &p,
                &subject(who),
                AnswerKind::Access,
                Lang::En,
                ts("2026-11-23T10:00:00Z"),
                FailingAfter { left },
            )
            .expect_err("the output failed");
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
