//! TOML → [`PolicyFile`], turning every syntax, unknown-key and wrong-type error into a
//! diagnostic that names the place and suggests the nearest valid name.

use crate::diag::{Diagnostic, nearest};
use crate::model::PolicyFile;
use crate::source::SourceFile;

/// Parses the text of `file`. On failure returns the (single) structural error TOML reported.
// The error path is cold and returns once per file: its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse(file: &SourceFile) -> Result<PolicyFile, Diagnostic> {
    if file.text().trim().is_empty() {
        return Err(Diagnostic::structural("S001", "empty-file", "the policy file is empty", None)
            .with_help("start from examples/policies/jbsync.toml; a policy needs at least a [policy] table"));
    }
    toml::from_str::<PolicyFile>(file.text()).map_err(|e| toml_diagnostic(&e))
}

/// A TOML error as a structural diagnostic with its place and, for a misspelt key or value, the
/// nearest valid one. Shared with the other TOML files Custos reads (dataset annotations).
pub fn toml_diagnostic(e: &toml::de::Error) -> Diagnostic {
    let span = e.span();
    let message = e.message().trim().to_owned();
    if let Some((found, expected)) = split_unknown(&message, "unknown field `") {
        let help = match nearest(&found, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? valid keys here: {}", list(&expected)),
            None => format!("valid keys here: {}", list(&expected)),
        };
        return Diagnostic::structural(
            "S002",
            "unknown-key",
            format!("unknown key `{found}`"),
            span,
        )
        .with_help(help);
    }
    if let Some((found, expected)) = split_unknown(&message, "unknown variant `") {
        let help = match nearest(&found, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? valid values: {}", list(&expected)),
            None => format!("valid values: {}", list(&expected)),
        };
        return Diagnostic::structural(
            "S003",
            "invalid-value",
            format!("`{found}` is not a valid value here"),
            span,
        )
        .with_help(help);
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return Diagnostic::structural(
            "S004",
            "missing-key",
            format!("this table needs the key `{field}`"),
            span,
        )
        .with_help(format!("add `{field} = …`"));
    }
    if message.starts_with("invalid type") {
        return Diagnostic::structural("S003", "wrong-type", message, span);
    }
    let looks_like_value_error =
        message.contains("is not a period") || message.contains("in a text");
    if looks_like_value_error {
        return Diagnostic::structural("S003", "invalid-value", message, span);
    }
    if let Some(field) = message
        .strip_prefix("duplicate field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return Diagnostic::structural(
            "S006",
            "duplicate-id",
            format!("`{field}` is given twice in this table"),
            span,
        )
        .with_help("keep one of them");
    }
    if message.starts_with("duplicate key") {
        return Diagnostic::structural("S006", "duplicate-id", message, span);
    }
    Diagnostic::structural("S001", "syntax", format!("invalid TOML: {message}"), span)
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into `x` and the candidates.
fn split_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let (found, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((found.to_owned(), expected))
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Diagnostic {
        parse(&SourceFile::new("t.toml", text)).unwrap_err()
    }

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_valid_key() {
        let d = err("[policy]\nversoin = \"1\"\n");
        assert_eq!(d.code, "S002");
        assert_eq!(d.message, "unknown key `versoin`");
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `version`?"),
            "{:?}",
            d.help
        );
        assert_eq!(d.span, Some(9..16));
    }

    #[test]
    fn an_unknown_enum_value_suggests_the_nearest_one() {
        let d = err("[policy]\n[[purpose]]\nid = \"p\"\nname = \"P\"\nbasis = \"contrcat\"\n");
        assert_eq!(d.code, "S003");
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `contract`?"),
            "{:?}",
            d.help
        );
    }

    #[test]
    fn a_wrong_type_says_what_was_expected() {
        let d = err("[policy]\nversion = 2\n");
        assert_eq!(d.name, "wrong-type");
        assert!(d.message.contains("expected a string"), "{}", d.message);
    }

    #[test]
    fn a_bad_period_is_an_invalid_value_naming_the_text() {
        let d = err("[policy]\n[breach]\nauthority_within = \"three days\"\n");
        assert_eq!(d.code, "S003");
        assert!(
            d.message.contains("`three days` is not a period"),
            "{}",
            d.message
        );
    }

    #[test]
    fn empty_and_malformed_files_are_structural_errors() {
        assert_eq!(err("  \n").name, "empty-file");
        assert_eq!(err("[policy\n").name, "syntax");
        assert_eq!(err("").name, "empty-file");
    }

    #[test]
    fn several_legal_bases_parse_and_a_misspelt_one_is_named_with_the_nearest() {
        let ok = "[policy]\n[[purpose]]\nid = \"p\"\nname = \"P\"\nbasis = [\"consent\", \"contract\"]\n";
        let f = parse(&SourceFile::new("t.toml", ok)).expect("an array of bases is valid");
        assert_eq!(
            f.purpose[0]
                .get_ref()
                .basis
                .as_ref()
                .unwrap()
                .get_ref()
                .values()
                .len(),
            2
        );
        let d = err(&ok.replace("\"contract\"]", "\"contrcat\"]"));
        assert_eq!(d.code, "S003");
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `contract`?"),
            "{:?}",
            d.help
        );
        let d = err("[policy]\n[[purpose]]\nid = \"p\"\nname = \"P\"\nbasis = 5\n");
        assert_eq!(d.name, "wrong-type");
        assert!(!d.message.contains("invalid TOML"), "{}", d.message);
    }

    #[test]
    fn a_cookie_lifetime_is_session_or_a_period_and_type_is_checked() {
        let ok = "[policy]\n[[cookie]]\nid = \"s\"\ntype = \"strictly_necessary\"\nlifetime = \"session\"\n[[tracker]]\nid = \"t\"\ntype = \"analytics\"\nlifetime = \"13 months\"\n";
        let f = parse(&SourceFile::new("t.toml", ok)).expect("valid");
        assert_eq!(
            f.cookies().count(),
            2,
            "[[tracker]] takes the shape of [[cookie]]"
        );
        let d = err(&ok.replace("\"13 months\"", "\"forever\""));
        assert_eq!(d.code, "S003");
        assert!(
            d.message.contains("`forever` is not a period"),
            "{}",
            d.message
        );
        let d = err(&ok.replace("\"analytics\"", "\"analitics\""));
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `analytics`?"),
            "{:?}",
            d.help
        );
    }
}
