//! Access export of one subject with 100k records of ~1 KiB (issue 6's figure: under 2 s with
//! flat memory): JSON, CSV and the HTML report, streamed to a sink in one run.
//! Run: `cargo bench -p custos-rights --bench export`.

use std::collections::BTreeSet;

use custos_policy::{Lang, SourceFile, load_source};
use custos_rights::access::{ExportRecord, article15, write_csv, write_html, write_json};

fn main() {
    divan::main();
}

fn records() -> impl Iterator<Item = ExportRecord> {
    let text = "x".repeat(1000);
    (0..100_000).map(move |i| ExportRecord {
        id: format!("{i:032x}"),
        category: "support".into(),
        purposes: vec!["support".into()],
        created_at: "2026-11-20T10:00:00Z".into(),
        data: serde_json::value::to_raw_value(&serde_json::json!({ "message": text, "n": i }))
            .expect("JSON"),
        restriction: None,
        source: None,
    })
}

#[divan::bench(sample_count = 5)]
fn export_100k_json_csv_html() -> u64 {
    let policy = load_source(SourceFile::new(
        "jbsync.toml",
        include_str!("../../../examples/policies/jbsync.toml"),
    ))
    .expect("loads")
    .policy;
    let cats: BTreeSet<String> = ["support".to_string()].into();
    let info = article15(&policy, Lang::Nl, &cats).expect("info");
    write_json(std::io::sink(), &info, records()).expect("json")
        + write_csv(std::io::sink(), records()).expect("csv")
        + write_html(std::io::sink(), Lang::Nl, &info, records()).expect("html")
}
