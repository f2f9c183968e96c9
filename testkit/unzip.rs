//! Opens an access answer with a standard zip tool, as the person receiving it would: shared by
//! the test binaries that check answers, included by `#[path]` (test code cannot otherwise be
//! shared between crates).

use std::path::Path;
use std::process::Command;

/// Extracts `zip` into `to` with `unzip`, or Python's `zipfile` where `unzip` is missing.
///
/// # Panics
/// When neither tool is available or the one that ran could not open the archive.
pub(crate) fn extract(zip: &Path, to: &Path) {
    let unzip = Command::new("unzip")
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(to)
        .status();
    if matches!(unzip, Ok(s) if s.success()) {
        return;
    }
    let python = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(zip)
        .arg(to)
        .status()
        .expect("neither unzip nor python3 is available to open the answer");
    assert!(
        python.success(),
        "a standard zip tool could not open the answer"
    );
}
