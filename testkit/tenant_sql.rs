//! Every SQL statement on a tenant table filters by tenant: a check over a crate's own source,
//! shared by the crates that keep tenant tables (included by `#[path]`, since test code cannot
//! otherwise be shared between crates).
//!
//! What it reads: every string literal in the crate's `src/` outside `#[cfg(test)]` items, with
//! Rust format placeholders (`{name}`) replaced by the literals that `let name = …` or
//! `const NAME: &str = …` bind in the same file. A tenant table is one whose `CREATE TABLE` (in
//! those literals: the migrations) has a `tenant_id` column. Each SELECT, UPDATE, DELETE, INSERT
//! … SELECT or WITH statement needs one tenant predicate (`tenant_id = <parameter>`,
//! `tenant_id IN (…)`, `tenant_id IS [NOT DISTINCT FROM] <parameter>`, or a join on
//! `a.tenant_id = b.tenant_id`) for every time it reads or changes a tenant table (`FROM`,
//! `JOIN`, `UPDATE`), so a subquery without its own filter is caught too. The deliberate
//! exceptions are listed by each crate's test, with the reason.
//!
//! A heuristic, not a SQL parser: it is strict (a statement it cannot see the filter of is
//! reported, and goes on the exception list with its reason) rather than clever.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A statement that may touch a tenant table without filtering by tenant, on purpose.
pub(crate) struct Exception {
    /// The statement as the check prints it (whitespace collapsed, placeholders resolved).
    pub(crate) statement: &'static str,
    /// Why it needs no tenant filter.
    pub(crate) reason: &'static str,
}

/// Checks every statement in `src` (a crate's source folder) and panics naming the file, the
/// line and the statement of each one on a tenant table without a tenant predicate that is not
/// in `exceptions`, and naming each exception that no longer matches a statement.
pub(crate) fn assert_every_statement_filters_by_tenant(src: &Path, exceptions: &[Exception]) {
    let report = scan_dir(src);
    assert!(
        !report.tenant_tables.is_empty() && report.statements > 0,
        "found no tenant tables or no statements in {}: the scan is broken",
        src.display()
    );
    let excepted: BTreeSet<&str> = exceptions.iter().map(|e| e.statement).collect();
    let mut failures: Vec<String> = report
        .unfiltered
        .iter()
        .filter(|u| !excepted.contains(u.statement.as_str()))
        .map(|u| format!("{}:{}: {}", u.file.display(), u.line, u.statement))
        .collect();
    for e in exceptions {
        if !report.unfiltered.iter().any(|u| u.statement == e.statement) {
            failures.push(format!(
                "the exception `{}` ({}) matches no statement any more: remove it",
                e.statement, e.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "statements on tenant tables ({}) without a tenant filter; add the filter, or list the \
         statement as an exception with its reason:\n{}",
        report
            .tenant_tables
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        failures.join("\n")
    );
}

/// What a scan found.
#[derive(Default)]
struct Report {
    tenant_tables: BTreeSet<String>,
    statements: usize,
    unfiltered: Vec<Unfiltered>,
}

/// A statement without enough tenant predicates.
struct Unfiltered {
    file: PathBuf,
    line: usize,
    statement: String,
}

/// A string literal of the source: where it starts, its text, and the name it is bound to.
struct Literal {
    line: usize,
    text: String,
    bound_to: Option<String>,
}

fn scan_dir(src: &Path) -> Report {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    files.sort();
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("a source file reads");
            (f.strip_prefix(src).unwrap_or(&f).to_path_buf(), text)
        })
        .collect();
    // Files that are test modules as a whole (`#[cfg(test)] mod tests;`).
    let mut test_files = BTreeSet::new();
    let lexed: Vec<(PathBuf, Vec<Literal>)> = sources
        .iter()
        .map(|(file, text)| {
            let (literals, test_mods) = lex(text);
            let dir = match file.file_stem().and_then(|s| s.to_str()) {
                Some("lib" | "main" | "mod") => file.parent().unwrap_or(Path::new("")).to_owned(),
                _ => file.with_extension(""),
            };
            for m in test_mods {
                test_files.insert(dir.join(format!("{m}.rs")));
                test_files.insert(dir.join(m).join("mod.rs"));
            }
            (file.clone(), literals)
        })
        .collect();
    let mut report = Report::default();
    for (_, literals) in &lexed {
        for l in literals {
            report.tenant_tables.extend(tenant_tables(&l.text));
        }
    }
    for (file, literals) in lexed.iter().filter(|(f, _)| !test_files.contains(f)) {
        check_literals(file, literals, &mut report);
    }
    report
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source folder reads") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn check_literals(file: &Path, literals: &[Literal], report: &mut Report) {
    let mut bindings: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in literals {
        if let Some(name) = &l.bound_to {
            bindings.entry(name).or_default().push(&l.text);
        }
    }
    for l in literals {
        for text in resolve(&l.text, &bindings) {
            for statement in split_statements(&text) {
                let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
                let Some((references, predicates)) = tally(&statement, &report.tenant_tables)
                else {
                    continue;
                };
                report.statements += 1;
                if predicates < references
                    && !report
                        .unfiltered
                        .iter()
                        .any(|u| u.file == file && u.statement == statement)
                {
                    report.unfiltered.push(Unfiltered {
                        file: file.to_owned(),
                        line: l.line,
                        statement,
                    });
                }
            }
        }
    }
}

/// The texts of `text` with every placeholder whose name `bindings` knows replaced by each of
/// its bindings (a few levels deep, a few variants at most).
fn resolve(text: &str, bindings: &BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    let mut done = Vec::new();
    let mut todo = vec![(text.to_owned(), 0)];
    while let Some((t, depth)) = todo.pop() {
        let next = (depth < 6)
            .then(|| {
                placeholders(&t)
                    .into_iter()
                    .find(|(_, _, n)| bindings.contains_key(n.as_str()))
            })
            .flatten();
        match next {
            Some((start, end, name)) if done.len() + todo.len() < 32 => {
                for b in &bindings[name.as_str()] {
                    todo.push((format!("{}{b}{}", &t[..start], &t[end..]), depth + 1));
                }
            }
            _ => done.push(t),
        }
    }
    done
}

/// The `{name}` and `{name:spec}` placeholders of a format string: (start, end, name).
fn placeholders(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('{').map(|i| rest + i) {
        let Some(close) = text[open..].find('}').map(|i| open + i) else {
            break;
        };
        let inner = &text[open + 1..close];
        let name = inner.split(':').next().unwrap_or_default();
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push((open, close + 1, name.to_owned()));
        }
        rest = open + 1;
    }
    out
}

/// Statements separated by `;` outside quotes.
fn split_statements(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// SQL tokens: words (identifiers and keywords, with their `alias.` prefix), parameters,
/// quoted strings (as `'`), and single punctuation characters.
fn sql_tokens(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push("'".to_owned());
        } else if matches!(c, '$' | '?' | ':') && chars.get(i + 1).is_some_and(|n| word(*n)) {
            let start = i;
            i += 1;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if word(c) {
            let start = i;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// For a data statement (SELECT, UPDATE, DELETE, INSERT, WITH): how often it reads or changes a
/// tenant table, and how many tenant predicates it holds. `None` for anything else.
fn tally(statement: &str, tenant_tables: &BTreeSet<String>) -> Option<(usize, usize)> {
    let tokens = sql_tokens(statement);
    let upper = |i: usize| {
        tokens
            .get(i)
            .map(|t| t.to_ascii_uppercase())
            .unwrap_or_default()
    };
    if !matches!(
        upper(0).as_str(),
        "SELECT" | "UPDATE" | "DELETE" | "INSERT" | "WITH"
    ) {
        return None;
    }
    let column = |i: usize| {
        tokens
            .get(i)
            .is_some_and(|t| t.rsplit('.').next() == Some("tenant_id"))
    };
    let parameter = |i: usize| {
        tokens
            .get(i)
            .is_some_and(|t| t.starts_with(['$', '?', ':']))
            || tokens.get(i).is_some_and(|t| t == "?")
    };
    let (mut references, mut predicates) = (0, 0);
    for i in 0..tokens.len() {
        if matches!(upper(i).as_str(), "FROM" | "JOIN" | "UPDATE")
            && tokens.get(i + 1).is_some_and(|t| tenant_tables.contains(t))
        {
            references += 1;
        }
        if !column(i) {
            continue;
        }
        let is = upper(i + 1);
        let filtered = match is.as_str() {
            "=" => parameter(i + 2) || column(i + 2),
            "IN" => tokens.get(i + 2).is_some_and(|t| t == "("),
            "IS" if upper(i + 2) == "NOT" => {
                upper(i + 3) == "DISTINCT" && upper(i + 4) == "FROM" && parameter(i + 5)
            }
            "IS" => parameter(i + 2),
            _ => false,
        };
        if filtered {
            predicates += 1;
        }
    }
    Some((references, predicates))
}

/// The tables a `CREATE TABLE` in `text` declares with a `tenant_id` column.
fn tenant_tables(text: &str) -> Vec<String> {
    let tokens = sql_tokens(text);
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        if !(tokens[i].eq_ignore_ascii_case("CREATE")
            && tokens
                .get(i + 1)
                .is_some_and(|t| t.eq_ignore_ascii_case("TABLE")))
        {
            continue;
        }
        let mut j = i + 2;
        if tokens.get(j).is_some_and(|t| t.eq_ignore_ascii_case("IF")) {
            j += 3;
        }
        let Some(name) = tokens.get(j) else { continue };
        let mut depth = 0;
        for t in &tokens[j + 1..] {
            match t.as_str() {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "tenant_id" if depth == 1 => {
                    out.push(name.clone());
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

/// The string literals of Rust source outside `#[cfg(test)]` items, and the names of the
/// modules declared as test modules (`#[cfg(test)] mod name;`).
fn lex(src: &str) -> (Vec<Literal>, Vec<String>) {
    let b = src.as_bytes();
    let (mut literals, mut test_mods) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        if src[i..].starts_with("#[cfg(test)]") {
            let (end, declared) = skip_item(src, i + "#[cfg(test)]".len());
            test_mods.extend(declared);
            i = end;
        } else if let Some((end, text)) = literal_at(src, i) {
            let before = &src[..i];
            literals.push(Literal {
                line: before.matches('\n').count() + 1,
                text,
                bound_to: binding(before),
            });
            i = end;
        } else {
            i = skip_non_literal(src, i);
        }
    }
    (literals, test_mods)
}

/// Past a comment, a character literal or a lifetime, or one character.
fn skip_non_literal(src: &str, i: usize) -> usize {
    let rest = &src[i..];
    if rest.starts_with("//") {
        return rest.find('\n').map_or(src.len(), |n| i + n);
    }
    if rest.starts_with("/*") {
        return rest.find("*/").map_or(src.len(), |n| i + n + 2);
    }
    if rest.starts_with('\'') {
        // A character literal ('x', '\n', '\'', '\u{..}'), or a lifetime ('a), left as it is.
        let mut chars = rest.char_indices().skip(1);
        match chars.next() {
            Some((_, '\\')) => {
                if let Some(close) = rest.get(3..).and_then(|r| r.find('\'')) {
                    return i + 3 + close + 1;
                }
            }
            Some((_, c)) => {
                let after = 1 + c.len_utf8();
                if rest[after..].starts_with('\'') {
                    return i + after + 1;
                }
            }
            None => {}
        }
    }
    i + rest.chars().next().map_or(1, char::len_utf8)
}

/// The string literal (plain, raw or byte) starting at `i`: its end and its text.
fn literal_at(src: &str, i: usize) -> Option<(usize, String)> {
    let rest = &src[i..];
    // `b"…"`, `r"…"` and `br#"…"#` are literals; the same letters ending a name are not.
    let ident_before = src[..i]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    if ident_before && !rest.starts_with('"') {
        return None;
    }
    let body = rest.strip_prefix('b').unwrap_or(rest);
    let prefix = rest.len() - body.len();
    if let Some(raw) = body.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        if raw[hashes..].starts_with('"') {
            let open = i + prefix + 1 + hashes + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            let len = src[open..].find(&close)?;
            return Some((open + len + close.len(), src[open..open + len].to_owned()));
        }
        return None;
    }
    if !body.starts_with('"') {
        return None;
    }
    let mut text = String::new();
    let mut chars = src[i + prefix + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((i + prefix + 1 + at + 1, text)),
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('n' | 'r' | 't' | '\n') => text.push(' '),
                Some(e) => text.push(e),
                None => return None,
            },
            c => text.push(c),
        }
    }
    None
}

/// Past the item after `#[cfg(test)]` (to its `;` or its closing brace), with the name of the
/// module it declares when it is `mod name;`.
fn skip_item(src: &str, mut i: usize) -> (usize, Option<String>) {
    let start = i;
    let mut depth = 0;
    while i < src.len() {
        if let Some((end, _)) = literal_at(src, i) {
            i = end;
            continue;
        }
        match src.as_bytes()[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b')' | b']' => depth -= 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1, None);
                }
            }
            b';' if depth == 0 => {
                let item = &src[start..i];
                let declared = item
                    .split_whitespace()
                    .skip_while(|w| *w != "mod")
                    .nth(1)
                    .map(str::to_owned);
                return (i + 1, declared);
            }
            _ => {}
        }
        i = skip_non_literal(src, i);
    }
    (src.len(), None)
}

/// The name a literal is bound to when the code before it ends in `let name =`,
/// `let name = format!(` or `const NAME: &str =`.
fn binding(before: &str) -> Option<String> {
    let mut rest = before.trim_end();
    if let Some(r) = rest.strip_suffix('(') {
        rest = r.trim_end().strip_suffix("format!")?.trim_end();
    }
    let rest = rest.strip_suffix('=')?.trim_end();
    let rest = match rest.rsplit_once(':') {
        Some((name, ty)) if matches!(ty.trim(), "&str" | "&'static str") => name.trim_end(),
        _ => rest,
    };
    let name_start = rest
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |p| p + 1);
    let name = &rest[name_start..];
    let keyword = rest[..name_start]
        .trim_end()
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default();
    let bound = matches!(keyword, "let" | "mut" | "const");
    (bound && !name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tenant_sql_check {
    use super::*;

    fn unfiltered(src: &str) -> Vec<String> {
        let (literals, _) = lex(src);
        let mut report = Report::default();
        for l in &literals {
            report.tenant_tables.extend(tenant_tables(&l.text));
        }
        check_literals(Path::new("x.rs"), &literals, &mut report);
        report.unfiltered.into_iter().map(|u| u.statement).collect()
    }

    const SCHEMA: &str = r#"const M: &str = "CREATE TABLE meta (key TEXT); CREATE TABLE records (tenant_id TEXT NOT NULL, id TEXT, PRIMARY KEY (tenant_id, id))";"#;

    #[test]
    fn a_statement_without_a_tenant_filter_is_reported() {
        let src = format!(
            "{SCHEMA}\nfn f() {{ q(\"SELECT id FROM records WHERE id = ?1\"); q(\"DELETE FROM records\"); }}"
        );
        assert_eq!(
            unfiltered(&src),
            [
                "SELECT id FROM records WHERE id = ?1",
                "DELETE FROM records"
            ]
        );
    }

    #[test]
    fn filtered_statements_and_other_tables_pass() {
        let src = format!(
            "{SCHEMA}\nfn f() {{ q(\"SELECT id FROM records WHERE tenant_id = $1\"); \
             q(\"UPDATE records SET id = ?2 WHERE tenant_id IS ?1\"); \
             q(\"SELECT key FROM meta\"); q(\"INSERT INTO records (tenant_id, id) VALUES (?1, ?2)\"); }}"
        );
        assert!(unfiltered(&src).is_empty(), "{:?}", unfiltered(&src));
    }

    #[test]
    fn a_subquery_needs_its_own_filter() {
        let src = format!(
            "{SCHEMA}\nfn f() {{ q(\"DELETE FROM records WHERE tenant_id = $1 AND id IN (SELECT id FROM records WHERE id > $2)\"); }}"
        );
        assert_eq!(unfiltered(&src).len(), 1);
    }

    #[test]
    fn placeholders_are_resolved_from_the_bindings_of_the_file() {
        let src = format!(
            "{SCHEMA}\nfn f() {{ let good = \"tenant_id = $1\"; let bad = format!(\"id = $1\"); \
             q(&format!(\"SELECT id FROM records WHERE {{good}}\")); \
             q(&format!(\"SELECT id FROM records WHERE {{bad}}\")); }}"
        );
        assert_eq!(unfiltered(&src), ["SELECT id FROM records WHERE id = $1"]);
    }

    #[test]
    fn test_code_comments_and_quoted_semicolons_are_not_statements() {
        let src = format!(
            "{SCHEMA}\n// q(\"DELETE FROM records\")\n#[cfg(test)]\nmod tests {{ fn t() {{ q(\"DELETE FROM records\"); let c = '}}'; }} }}\n\
             fn f() {{ q(\"SELECT id FROM records WHERE tenant_id = $1 AND id = ';DELETE FROM records'\"); }}"
        );
        assert!(unfiltered(&src).is_empty(), "{:?}", unfiltered(&src));
    }
}
