//! `custos deadline` prints the due date so anyone can check the arithmetic.

use std::process::Command;

fn deadline(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("deadline")
        .args(args)
        .output()
        .expect("runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn deadline_prints_the_due_date_with_dutch_holidays() {
    assert_eq!(deadline(&["2026-03-15"]).1, "2026-04-15");
    assert_eq!(deadline(&["2026-01-31"]).1, "2026-03-02");
    assert_eq!(deadline(&["2026-03-06"]).1, "2026-04-07", "Easter Monday");
    assert_eq!(deadline(&["2026-01-31", "--extended"]).1, "2026-04-30");
    assert_eq!(
        deadline(&["2026-04-14", "--equated", "2026-05-15"]).1,
        "2026-05-18"
    );
    assert_eq!(
        deadline(&["2026-03-06", "--calendar", "none"]).1,
        "2026-04-06"
    );
}

#[test]
fn deadline_refuses_a_bad_date_with_exit_2() {
    let (code, _, err) = deadline(&["2026-02-30"]);
    assert_eq!(code, 2);
    assert!(err.contains("`2026-02-30` is not a date"), "{err}");
}
