//! Whether a test that needs an external tool (a validator, a code generator, a compiler) runs:
//! one rule for every test binary of the workspace, included by `#[path]` like
//! `database_url.rs`. Without the tool the test skips with a note, so a developer without it can
//! still run everything else; under CI (the `CI` variable set, and not `0` or `false`) a missing
//! tool fails the test instead, because CI must never pass by silently skipping.

/// Whether the test that needs `name` runs: `probe` says whether the tool is there. `true`: run;
/// `false`: skip (a note on stderr says which tool is missing).
///
/// # Panics
/// Under CI when the tool is missing, with a message saying what to install.
pub(crate) fn require_tool(name: &str, probe: impl FnOnce() -> bool) -> bool {
    if probe() {
        return true;
    }
    let ci = std::env::var("CI").ok();
    let under_ci = ci.as_deref().is_some_and(|c| {
        let c = c.trim();
        !c.is_empty() && !c.eq_ignore_ascii_case("false") && c != "0"
    });
    assert!(
        !under_ci,
        "{name} is missing, and CI is set: install it (.ci/run sources the install scripts in \
         .ci/) rather than skip the tests that need it"
    );
    eprintln!("note: {name} is not installed; skipping the test that needs it");
    false
}
