//! The seed companies' example policies (`examples/policies/`), loaded for tests: one loader for
//! every test module that needs one, included by `#[path]` (test code cannot otherwise be shared
//! between crates).

use custos_policy::{Policy, SourceFile, load_source};

/// The example policy `examples/policies/<name>.toml`, resolved.
///
/// # Panics
/// When the file is missing or does not load: the examples are part of the repository.
pub(crate) fn example(name: &str) -> Policy {
    let file = format!("{name}.toml");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(&file);
    let text = std::fs::read_to_string(&path).expect("the example policy exists");
    load_source(SourceFile::new(&file, &text))
        .expect("the example policy loads")
        .policy
}

/// JBSync's policy (bilingual, controller and processor, retention tables, approval gates).
pub(crate) fn jbsync() -> Policy {
    example("jbsync")
}
