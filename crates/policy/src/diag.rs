//! Diagnostics: what is wrong, where (file, line, column, snippet), which article of the law,
//! and what to do about it. Rendered for people (with the source line underlined) or as JSON.

use std::fmt::Write as _;
use std::ops::Range;

use serde::Serialize;

use crate::source::{LineCol, SourceFile};

/// How bad a finding is. `Error` findings make `custos check` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Probably incomplete or risky; the statement can still be published.
    Warning,
    /// The policy breaks a rule of the GDPR (or cannot be read).
    Error,
}

impl Severity {
    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding about one place in one policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `C101` for a rule or `S002` for a structural error.
    pub code: &'static str,
    /// Stable kebab-case name for the code, e.g. `purpose-legal-basis`.
    pub name: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong, in one sentence. Never holds personal data beyond what the policy says.
    pub message: String,
    /// The article the finding enforces, e.g. `Art. 13(1)(d) GDPR`.
    pub article: Option<&'static str>,
    /// Byte range in the source file, when the finding points at a place.
    pub span: Option<Range<usize>>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A structural error (the file cannot be used as a policy), pointing at `span`.
    pub fn structural(
        code: &'static str,
        name: &'static str,
        message: impl Into<String>,
        span: Option<Range<usize>>,
    ) -> Self {
        Diagnostic {
            code,
            name,
            severity: Severity::Error,
            message: message.into(),
            article: None,
            span,
            help: None,
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is a structural (parse) error rather than a rule finding.
    pub fn is_structural(&self) -> bool {
        self.code.starts_with('S')
    }
}

/// A diagnostic with the file it belongs to, as written to JSON output.
#[derive(Debug, Serialize)]
pub struct DiagnosticJson<'a> {
    /// Stable code.
    pub code: &'a str,
    /// Stable name of the code.
    pub name: &'a str,
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// What is wrong.
    pub message: &'a str,
    /// The article enforced, if any.
    pub article: Option<&'a str>,
    /// The file.
    pub file: &'a str,
    /// Start of the span.
    pub start: Option<LineCol>,
    /// End of the span.
    pub end: Option<LineCol>,
    /// The source line the finding points at.
    pub snippet: Option<&'a str>,
    /// What to do.
    pub help: Option<&'a str>,
}

impl Diagnostic {
    /// The JSON form of this diagnostic in `file`.
    pub fn to_json<'a>(&'a self, file: &'a SourceFile) -> DiagnosticJson<'a> {
        let start = self.span.as_ref().map(|s| file.line_col(s.start));
        let end = self.span.as_ref().map(|s| file.line_col(s.end));
        DiagnosticJson {
            code: self.code,
            name: self.name,
            severity: self.severity,
            message: &self.message,
            article: self.article,
            file: file.name(),
            start,
            end,
            snippet: start.map(|lc| file.line_text(lc.line)),
            help: self.help.as_deref(),
        }
    }

    /// Renders the diagnostic for a terminal: header, location, the source line with the span
    /// underlined, the article and the hint.
    pub fn render(&self, file: &SourceFile) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        );
        match &self.span {
            Some(span) => {
                let start = file.line_col(span.start);
                let _ = writeln!(out, "  --> {}:{}:{}", file.name(), start.line, start.column);
                let line_text = file.line_text(start.line);
                let width = start.line.to_string().len();
                let end = file.line_col(span.end);
                let underline_len = if end.line == start.line {
                    end.column.saturating_sub(start.column).max(1)
                } else {
                    line_text
                        .chars()
                        .count()
                        .saturating_sub(start.column - 1)
                        .max(1)
                };
                let _ = writeln!(out, "{:width$} |", "");
                let _ = writeln!(out, "{} | {}", start.line, line_text);
                let _ = writeln!(
                    out,
                    "{:width$} | {}{}",
                    "",
                    " ".repeat(start.column - 1),
                    "^".repeat(underline_len)
                );
                if let Some(article) = self.article {
                    let _ = writeln!(out, "{:width$} = law: {article}", "");
                }
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "{:width$} = help: {help}", "");
                }
            }
            None => {
                let _ = writeln!(out, "  --> {}", file.name());
                if let Some(article) = self.article {
                    let _ = writeln!(out, "   = law: {article}");
                }
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "   = help: {help}");
                }
            }
        }
        out
    }
}

/// A value someone submitted, as an error message may show it: in backticks when it has the
/// shape of a policy identifier (lowercase letters, digits, `.`, `_`, `-`, at most 64
/// characters, no `@`), so a misspelt `draft.sned` is named; anything else, which may be an
/// e-mail address, a name or a phone number typed into the wrong field, as `the value given`
/// (nothing personal in error messages).
pub fn shown(value: &str) -> String {
    let identifier = !value.is_empty()
        && value.len() <= 64
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if identifier {
        format!("`{value}`")
    } else {
        "(the value given)".to_owned()
    }
}

/// The closest candidate to `input` by edit distance, if any is close enough to be a typo.
pub fn nearest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(input, c), c))
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_suggests_a_typo_fix_and_nothing_for_noise() {
        assert_eq!(nearest("parnt", ["id", "parent", "kind"]), Some("parent"));
        assert_eq!(nearest("zzzzzz", ["id", "parent", "kind"]), None);
    }

    #[test]
    fn render_underlines_the_span_and_names_file_line_and_column() {
        let f = SourceFile::new("p.toml", "[controller]\nnaem = \"x\"\n");
        let d = Diagnostic::structural("S002", "unknown-key", "unknown key `naem`", Some(13..17))
            .with_help("did you mean `name`?");
        let text = d.render(&f);
        assert!(text.contains("--> p.toml:2:1"), "{text}");
        assert!(text.contains("2 | naem = \"x\""), "{text}");
        assert!(text.contains("  | ^^^^\n"), "{text}");
        assert!(text.contains("help: did you mean `name`?"), "{text}");
    }
}
