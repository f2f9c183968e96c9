//! Check + render of the jbsync policy (issue 2's figure: well under 10 ms).
//! Run: `cargo bench -p custos-policy --bench policy`.
//! `toml_table_only` is the baseline in the same run: parsing the same text into a generic
//! TOML table, without the policy model, checks or rendering.

use custos_policy::render::{Format, render};
use custos_policy::{Lang, SourceFile, check, load_source};

const JBSYNC: &str = include_str!("../../../examples/policies/jbsync.toml");

fn main() {
    divan::main();
}

fn source() -> SourceFile {
    SourceFile::new("examples/policies/jbsync.toml", JBSYNC)
}

#[divan::bench]
fn toml_table_only() -> toml::Table {
    divan::black_box(JBSYNC)
        .parse::<toml::Table>()
        .expect("valid TOML")
}

#[divan::bench]
fn load() -> custos_policy::Loaded {
    load_source(divan::black_box(source())).expect("jbsync loads")
}

#[divan::bench]
fn check_only(b: divan::Bencher<'_, '_>) {
    let loaded = load_source(source()).expect("jbsync loads");
    b.bench(|| check::check(divan::black_box(&loaded)));
}

#[divan::bench(args = [Lang::Nl, Lang::En])]
fn render_markdown(b: divan::Bencher<'_, '_>, lang: Lang) {
    let loaded = load_source(source()).expect("jbsync loads");
    b.bench(|| render(divan::black_box(&loaded.policy), lang, Format::Markdown).expect("renders"));
}

/// The whole job a CI step does: read, check, render the statement in both languages as HTML.
#[divan::bench]
fn check_and_render_both_languages() -> usize {
    let loaded = load_source(divan::black_box(source())).expect("jbsync loads");
    let findings = check::check(&loaded);
    let nl = render(&loaded.policy, Lang::Nl, Format::Html).expect("renders");
    let en = render(&loaded.policy, Lang::En, Format::Html).expect("renders");
    findings.len() + nl.len() + en.len()
}
