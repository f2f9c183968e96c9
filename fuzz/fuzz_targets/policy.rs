//! Any bytes given as a policy file: loading never panics, and whatever loads can be checked,
//! rendered in every language and format, diffed against itself, and exported.
#![no_main]

use custos_policy::render::{Format, render};
use custos_policy::{Lang, SourceFile, check, diff, dpv, load_source, ropa};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(loaded) = load_source(SourceFile::new("fuzz.toml", text)) else { return };
    for d in check::check(&loaded) {
        let _ = d.render(&loaded.source);
    }
    for lang in Lang::ALL {
        for format in [Format::Markdown, Format::Html, Format::Json] {
            render(&loaded.policy, lang, format).expect("a loaded policy always renders");
        }
        ropa::record(&loaded.policy, lang).expect("a loaded policy always has a record").to_csv().expect("CSV");
    }
    let report = diff::diff(&loaded.policy, &loaded.policy);
    assert!(report.changes.is_empty(), "a policy differs from itself: {:?}", report.changes);
    let _ = dpv::export(&loaded.policy);
});
