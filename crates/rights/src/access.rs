//! Access and portability answers (Art. 15, 20 GDPR): the subject's data as JSON and CSV, and a
//! readable HTML report with the Art. 15(1) information drawn from the policy (purposes,
//! categories, recipients, retention or its criteria, the source, transfer safeguards,
//! automated decisions, the rights and the authority). Everything streams: records are written
//! as they come, so a subject with a million records needs no more memory than one with ten.

use std::collections::BTreeSet;
use std::io::Write;

use custos_policy::model::{AutomatedKind, Basis, SourceKind};
use custos_policy::render::{Catalogue, retention_words};
use custos_policy::{Lang, Policy};
use serde::Serialize;

/// One record in an answer.
#[derive(Debug, Clone, Serialize)]
pub struct ExportRecord {
    /// Record id.
    pub id: String,
    /// Category id.
    pub category: String,
    /// Purpose ids.
    pub purposes: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// The data, as the JSON text it was stored as (kept verbatim: neither parsed into a tree
    /// nor re-encoded, so an answer costs little per record and shows exactly what is held).
    pub data: Box<serde_json::value::RawValue>,
    /// Why the record is kept under restriction (Art. 17(3), 18), e.g. `Art. 17(3)(b) GDPR`;
    /// `None` for a record in everyday processing. Restricted records are still the subject's
    /// data and belong in the answer, marked.
    pub restriction: Option<String>,
    /// Where the record was found: `None` for the vault, the dataset's name for a row read by a
    /// connector from the company's own database (its id then names the table and key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Why an answer could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing failed.
    #[error("writing the answer: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding failed.
    #[error("encoding the answer: {0}")]
    Json(#[from] serde_json::Error),
    /// CSV failed.
    #[error("encoding the CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The report template or a catalogue failed.
    #[error("rendering the report: {0}")]
    Render(String),
    /// The record source gave a different number of records for one file of the answer than for
    /// another (records were written or erased while the answer was written).
    #[error(
        "the subject's records changed while the answer was written ({first} records in {first_file}, {second} in {second_file}); write the answer again"
    )]
    Changed {
        /// The file written first.
        first_file: &'static str,
        /// Its record count.
        first: u64,
        /// The file that disagrees.
        second_file: &'static str,
        /// Its record count.
        second: u64,
    },
}

impl ExportError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            ExportError::Io(_) => C::FileError,
            // The answer is built from Custos's own data and templates: a bug if it fails.
            ExportError::Json(_) | ExportError::Csv(_) | ExportError::Render(_) => C::Internal,
            ExportError::Changed { .. } => C::AnswerChanged,
        }
    }
}

/// The Art. 15(1) information for a subject whose data falls in `categories`.
#[derive(Debug, Serialize)]
pub struct Article15 {
    /// The controller.
    pub controller: Option<String>,
    /// 15(1)(a): purposes, with their legal basis.
    pub purposes: Vec<Item>,
    /// 15(1)(b): categories of personal data, with retention (15(1)(d)) and source (15(1)(g)).
    pub categories: Vec<CategoryItem>,
    /// 15(1)(c): recipients, with location and transfer safeguards (15(2)).
    pub recipients: Vec<RecipientItem>,
    /// 15(1)(h): automated decision-making.
    pub automated: Vec<Item>,
    /// 15(1)(e): the rights.
    pub rights: Vec<String>,
    /// 15(1)(f): where to complain.
    pub authorities: Vec<String>,
}

/// A named item with an explanation.
#[derive(Debug, Serialize)]
pub struct Item {
    /// Id.
    pub id: String,
    /// Name in the answer's language.
    pub name: String,
    /// Explanation.
    pub detail: String,
}

/// A category in the answer.
#[derive(Debug, Serialize)]
pub struct CategoryItem {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// How long it is kept, or the criteria.
    pub retention: String,
    /// Where it came from.
    pub source: String,
}

/// A recipient in the answer.
#[derive(Debug, Serialize)]
pub struct RecipientItem {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Locations.
    pub location: String,
    /// Transfer safeguards for locations outside the EEA.
    pub safeguards: String,
}

/// Builds the Art. 15(1) information for data in `categories` (ids; parents count for children).
pub fn article15(
    policy: &Policy,
    lang: Lang,
    categories: &BTreeSet<String>,
) -> Result<Article15, ExportError> {
    let cat = Catalogue::get(lang).map_err(|e| ExportError::Render(e.to_string()))?;
    let t = |key: &str| {
        cat.t(key)
            .map(str::to_owned)
            .map_err(|e| ExportError::Render(e.to_string()))
    };
    let tx = |x: &custos_policy::Text| x.get_or_any(lang).to_owned();
    let covers = |purpose_cats: &[String]| {
        purpose_cats.iter().any(|pc| {
            categories
                .iter()
                .any(|c| c == pc || c.starts_with(&format!("{pc}.")))
        })
    };
    let purposes: Vec<_> = policy
        .purposes
        .iter()
        .filter(|p| covers(&p.categories))
        .collect();
    let mut out = Article15 {
        controller: policy.controller.name.clone(),
        purposes: Vec::new(),
        categories: Vec::new(),
        recipients: Vec::new(),
        automated: Vec::new(),
        rights: Vec::new(),
        authorities: policy
            .rights
            .complaint
            .iter()
            .map(|a| {
                if lang == Lang::Nl {
                    a.name_nl.clone()
                } else {
                    a.name_en.clone()
                }
            })
            .collect(),
    };
    for p in &purposes {
        // A purpose without a basis in the policy gets none here either (the checker
        // reports it); a dash would read as an answer. Several bases are alternatives, with
        // the policy's note on which applies when.
        let bases = cat
            .bases(&p.bases)
            .map_err(|e| ExportError::Render(e.to_string()))?;
        let basis = [bases, p.basis_note.as_ref().map(tx)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(". ");
        out.purposes.push(Item {
            id: p.id.clone(),
            name: tx(&p.name),
            detail: basis,
        });
        if let Some(a) = p
            .automated_decision
            .as_ref()
            .filter(|a| a.kind != AutomatedKind::None)
        {
            let detail = [&a.logic, &a.significance, &a.consequences]
                .into_iter()
                .flatten()
                .map(tx)
                .collect::<Vec<_>>()
                .join(" ");
            out.automated.push(Item {
                id: p.id.clone(),
                name: tx(&p.name),
                detail,
            });
        }
    }
    for id in categories {
        let Some(c) = policy.category(id) else {
            continue;
        };
        let retention = match (&c.retention, c.stored) {
            (_, false) => t("label.never_stored")?,
            (Some(r), true) => retention_words(policy, r, lang, cat)
                .map_err(|e| ExportError::Render(e.to_string()))?,
            (None, true) => String::new(),
        };
        let mut source = t(&format!("source.{}", source_key(c.source.kind)))?;
        if let Some(d) = &c.source.description {
            source = format!("{source}: {}", tx(d));
        }
        out.categories.push(CategoryItem {
            id: c.id.clone(),
            name: tx(&c.name),
            retention,
            source,
        });
    }
    let mut seen = BTreeSet::new();
    let recipient_ids = purposes.iter().flat_map(|p| p.recipients.iter()).chain(
        policy
            .recipients
            .iter()
            .filter(|r| {
                r.categories.iter().any(|rc| {
                    categories
                        .iter()
                        .any(|c| c == rc || c.starts_with(&format!("{rc}.")))
                })
            })
            .map(|r| &r.id),
    );
    for rid in recipient_ids {
        if !seen.insert(rid.clone()) {
            continue;
        }
        let Some(r) = policy.recipient(rid) else {
            continue;
        };
        let location = match r.location_note.as_ref().map(tx) {
            Some(note) => note,
            None if r.locations.is_empty() => t("label.location_unknown")?,
            None => r.locations.join(", "),
        };
        // Art. 15(2): the safeguards of a transfer. Where the policy names no location, nothing
        // is concluded about where the data goes.
        let safeguards = if r.locations.is_empty() {
            String::new()
        } else if r.third_countries.is_empty() {
            t("mechanism.none")?
        } else if r.transfer.is_empty() {
            t("label.none_stated")?
        } else {
            let mechanisms: Vec<String> = r
                .transfer
                .iter()
                .map(|m| t(&format!("mechanism.{}", mechanism_key(*m))))
                .collect::<Result<_, _>>()?;
            let mut s = mechanisms.join("; ");
            if let Some(sg) = &r.safeguards {
                s = format!("{s}. {}", tx(sg));
            }
            s
        };
        out.recipients.push(RecipientItem {
            id: r.id.clone(),
            name: r.name.clone(),
            location,
            safeguards,
        });
    }
    for right in &policy.rights.offered {
        out.rights.push(format!(
            "{} ({})",
            t(&format!("right.{}", right.key()))?,
            cat.cite(right.article())
                .map_err(|e| ExportError::Render(e.to_string()))?
        ));
    }
    Ok(out)
}

fn key_of<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn source_key(s: SourceKind) -> String {
    key_of(s)
}

fn mechanism_key(m: custos_policy::model::Mechanism) -> String {
    key_of(m)
}

/// Whether a record falls under portability (Art. 20(1)): provided by the subject (directly or
/// by using the service) and processed on consent or a contract.
pub fn portable(policy: &Policy, r: &ExportRecord) -> bool {
    let provided = policy.category(&r.category).is_some_and(|c| {
        matches!(
            c.source.kind,
            SourceKind::DataSubject | SourceKind::Observed
        )
    });
    let basis_ok = r
        .purposes
        .iter()
        .filter_map(|p| policy.purpose(p))
        .any(|p| {
            p.bases
                .iter()
                .any(|b| matches!(b, Basis::Consent | Basis::Contract))
        });
    provided && basis_ok
}

/// The JSON answer, written record by record: `{"information": {...}, "records": [...]}`, or
/// `{"records": [...]}` without information (portability).
pub struct JsonWriter<W: Write> {
    w: W,
    n: u64,
}

impl<W: Write> JsonWriter<W> {
    /// Writes the opening, with the Art. 15(1) information when given.
    pub fn start(mut w: W, info: Option<&Article15>) -> Result<Self, ExportError> {
        w.write_all(b"{")?;
        if let Some(info) = info {
            w.write_all(b"\"information\":")?;
            serde_json::to_writer(&mut w, info)?;
            w.write_all(b",")?;
        }
        w.write_all(b"\"records\":[")?;
        Ok(Self { w, n: 0 })
    }

    /// Appends one record.
    pub fn push(&mut self, r: &ExportRecord) -> Result<(), ExportError> {
        if self.n > 0 {
            self.w.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.w, r)?;
        self.n += 1;
        Ok(())
    }

    /// Closes the document; returns the writer and the number of records.
    pub fn finish(mut self) -> Result<(W, u64), ExportError> {
        self.w.write_all(b"]}\n")?;
        Ok((self.w, self.n))
    }
}

/// Streams the JSON answer: `{"information": {...}, "records": [ ... ]}`.
pub fn write_json(
    w: impl Write,
    info: &Article15,
    records: impl Iterator<Item = ExportRecord>,
) -> Result<u64, ExportError> {
    let mut j = JsonWriter::start(w, Some(info))?;
    for r in records {
        j.push(&r)?;
    }
    Ok(j.finish()?.1)
}

/// The CSV answer, written record by record: one row per record, the data as JSON text.
pub struct CsvWriter<W: Write> {
    c: csv::Writer<W>,
    n: u64,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header row.
    pub fn start(w: W) -> Result<Self, ExportError> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record([
            "id",
            "category",
            "purposes",
            "created_at",
            "restriction",
            "data",
        ])?;
        Ok(Self { c, n: 0 })
    }

    /// Appends one record.
    pub fn push(&mut self, r: &ExportRecord) -> Result<(), ExportError> {
        self.c.write_record([
            r.id.as_str(),
            &r.category,
            &r.purposes.join(";"),
            &r.created_at,
            r.restriction.as_deref().unwrap_or(""),
            r.data.get(),
        ])?;
        self.n += 1;
        Ok(())
    }

    /// Flushes; returns the writer and the number of records.
    pub fn finish(self) -> Result<(W, u64), ExportError> {
        let n = self.n;
        let w = self
            .c
            .into_inner()
            .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))?;
        Ok((w, n))
    }
}

/// Streams the CSV answer: one row per record, the data as JSON text.
pub fn write_csv(
    w: impl Write,
    records: impl Iterator<Item = ExportRecord>,
) -> Result<u64, ExportError> {
    let mut c = CsvWriter::start(w)?;
    for r in records {
        c.push(&r)?;
    }
    Ok(c.finish()?.1)
}

const REPORT_HEAD: &str = include_str!("../templates/report.html");

/// Appends `s` with HTML's five special characters escaped; copies the runs between them whole.
fn escape_into(o: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        o.push_str(&s[last..i]);
        o.push_str(rep);
        last = i + 1;
    }
    o.push_str(&s[last..]);
}

/// What the report says about the records as a whole: how many, per category, how many are
/// restricted, and how many of them the report lists (all of them are in the data files).
#[derive(Debug, Default, Serialize)]
pub struct RecordSummary {
    /// Records in the answer.
    pub total: u64,
    /// Records listed in the report.
    pub shown: u64,
    /// Records kept under restriction (Art. 17(3), 18).
    pub restricted: u64,
    /// Per category, in category order.
    pub categories: Vec<CategoryCount>,
}

/// Records of one category.
#[derive(Debug, Serialize)]
pub struct CategoryCount {
    /// Category id.
    pub id: String,
    /// Its name in the answer's language (the id when the policy no longer defines it).
    pub name: String,
    /// Records.
    pub records: u64,
    /// Of which restricted.
    pub restricted: u64,
}

/// What a report row needs besides the record: the language, and the names of categories and
/// purposes in it (a row names them as the statement does; an id the policy no longer defines
/// is shown as it is).
pub struct RowNames {
    lang: Lang,
    names: std::collections::HashMap<String, String>,
}

impl RowNames {
    /// The names from the Art. 15(1) information of the answer.
    pub fn new(lang: Lang, info: &Article15) -> Self {
        let names = info
            .categories
            .iter()
            .map(|c| (format!("c:{}", c.id), c.name.clone()))
            .chain(
                info.purposes
                    .iter()
                    .map(|p| (format!("p:{}", p.id), p.name.clone())),
            )
            .collect();
        Self { lang, names }
    }

    /// A timestamp's date in words in the answer's language (`20 November 2026`), or the
    /// timestamp as stored when it has no date in front.
    fn date(&self, at: &str) -> String {
        let day = at.get(..10).unwrap_or(at);
        match Catalogue::get(self.lang) {
            Ok(c) if day.len() == 10 => c.date(day),
            _ => at.to_owned(),
        }
    }

    fn name<'a>(&'a self, kind: &str, id: &'a str) -> &'a str {
        self.names
            .get(&format!("{kind}:{id}"))
            .map_or(id, String::as_str)
    }
}

/// One record as it reads in the report: its category, purposes, date and restriction, then
/// its content as label: value pairs (Art. 12(1): intelligible and easily accessible form), not
/// JSON. Nested objects become nested lists; a key is shown as the app wrote it, with `_` and
/// `-` as spaces.
pub fn html_row(names: &RowNames, r: &ExportRecord) -> String {
    let nl = names.lang == Lang::Nl;
    let mut o = String::with_capacity(r.data.get().len() * 2 + 512);
    o.push_str("<article class=\"record\"><h3>");
    escape_into(&mut o, names.name("c", &r.category));
    o.push_str("</h3><dl class=\"meta\"><dt>");
    o.push_str(if nl { "Kenmerk" } else { "Reference" });
    o.push_str("</dt><dd><code>");
    escape_into(&mut o, &r.id);
    o.push_str("</code></dd>");
    if !r.purposes.is_empty() {
        o.push_str("<dt>");
        o.push_str(if nl { "Doelen" } else { "Purposes" });
        o.push_str("</dt><dd>");
        for (i, p) in r.purposes.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            escape_into(&mut o, names.name("p", p));
        }
        o.push_str("</dd>");
    }
    o.push_str("<dt>");
    o.push_str(if nl { "Vastgelegd op" } else { "Recorded on" });
    o.push_str("</dt><dd><time datetime=\"");
    escape_into(&mut o, &r.created_at);
    o.push_str("\">");
    escape_into(&mut o, &names.date(&r.created_at));
    o.push_str("</time></dd>");
    if let Some(why) = &r.restriction {
        o.push_str("<dt>");
        o.push_str(if nl { "Beperking" } else { "Restriction" });
        o.push_str("</dt><dd>");
        if nl {
            o.push_str("beperkt (");
            // The stored basis cites the regulation in English.
            escape_into(&mut o, &dutch_citations(why));
        } else {
            o.push_str("restricted (");
            escape_into(&mut o, why);
        }
        o.push_str(")</dd>");
    }
    o.push_str("</dl>");
    match serde_json::from_str::<serde_json::Value>(r.data.get()) {
        Ok(v) => {
            o.push_str("<div class=\"data\">");
            value_into(&mut o, &v, nl);
            o.push_str("</div>");
        }
        // Not JSON after all: shown as it is, escaped.
        Err(_) => {
            o.push_str("<pre>");
            escape_into(&mut o, r.data.get());
            o.push_str("</pre>");
        }
    }
    o.push_str("</article>\n");
    o
}

/// `Art. 17(3)(b) GDPR` in a stored English text cited as the Dutch GDPR cites it:
/// `art. 17 lid 3 onder b AVG`.
fn dutch_citations(s: &str) -> String {
    let Ok(nl) = Catalogue::get(Lang::Nl) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(at) = rest.find("Art. ") {
        let after = &rest[at + 5..];
        match after.find(" GDPR") {
            Some(end) if !after[..end].contains(' ') => {
                out.push_str(&rest[..at]);
                match nl.cite(&after[..end]) {
                    Ok(c) => out.push_str(&c),
                    Err(_) => out.push_str(&rest[at..at + 5 + end + 5]),
                }
                rest = &after[end + 5..];
            }
            _ => {
                out.push_str(&rest[..at + 5]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A key as a label: `first_name` → `First name`.
fn label_of(key: &str) -> String {
    let spaced = key.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// A JSON value as the report shows it: an object as a list of label: value, an array of
/// plain values as one line, an array of objects as a numbered list, a plain value as text.
fn value_into(o: &mut String, v: &serde_json::Value, nl: bool) {
    use serde_json::Value;
    match v {
        Value::Object(m) if m.is_empty() => o.push('—'),
        Value::Object(m) => {
            o.push_str("<dl>");
            for (k, x) in m {
                o.push_str("<dt>");
                escape_into(o, &label_of(k));
                o.push_str("</dt><dd>");
                value_into(o, x, nl);
                o.push_str("</dd>");
            }
            o.push_str("</dl>");
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                value_into(o, x, nl);
            }
        }
        Value::Array(a) => {
            o.push_str("<ol>");
            for x in a {
                o.push_str("<li>");
                value_into(o, x, nl);
                o.push_str("</li>");
            }
            o.push_str("</ol>");
        }
        Value::String(s) => escape_into(o, s),
        Value::Bool(b) => o.push_str(match (b, nl) {
            (true, true) => "ja",
            (false, true) => "nee",
            (true, false) => "yes",
            (false, false) => "no",
        }),
        Value::Null => o.push('—'),
        Value::Number(n) => o.push_str(&n.to_string()),
    }
}

/// The HTML report, written record by record: the Art. 15(1) information, the summary of the
/// records when given, then the records one by one.
pub struct HtmlWriter<W: Write> {
    w: W,
    names: RowNames,
    n: u64,
}

impl<W: Write> HtmlWriter<W> {
    /// Renders the report's head: everything up to the records table's body.
    pub fn start(
        mut w: W,
        lang: Lang,
        info: &Article15,
        summary: Option<&RecordSummary>,
    ) -> Result<Self, ExportError> {
        let mut env = minijinja::Environment::new();
        env.add_template("report.html", REPORT_HEAD)
            .map_err(|e| ExportError::Render(e.to_string()))?;
        let head = env
            .get_template("report.html")
            .and_then(|t| {
                t.render(minijinja::context! { lang => lang.code(), i => info, s => summary })
            })
            .map_err(|e| ExportError::Render(e.to_string()))?;
        w.write_all(head.as_bytes())?;
        Ok(Self {
            w,
            names: RowNames::new(lang, info),
            n: 0,
        })
    }

    /// Appends one record (see [`html_row`]).
    pub fn push(&mut self, r: &ExportRecord) -> Result<(), ExportError> {
        self.push_row(&html_row(&self.names, r))
    }

    /// Appends a row rendered earlier by [`html_row`].
    pub fn push_row(&mut self, row: &str) -> Result<(), ExportError> {
        self.w.write_all(row.as_bytes())?;
        self.n += 1;
        Ok(())
    }

    /// Closes the document; returns the writer and the number of records.
    pub fn finish(mut self) -> Result<(W, u64), ExportError> {
        self.w
            .write_all(b"</div></section></main></body></html>\n")?;
        Ok((self.w, self.n))
    }
}

/// Streams the HTML report: the Art. 15(1) information, then every record as label: value.
pub fn write_html(
    w: impl Write,
    lang: Lang,
    info: &Article15,
    records: impl Iterator<Item = ExportRecord>,
) -> Result<u64, ExportError> {
    let mut h = HtmlWriter::start(w, lang, info, None)?;
    for r in records {
        h.push(&r)?;
    }
    Ok(h.finish()?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example_policies::jbsync;

    fn rec(i: usize, category: &str, purpose: &str) -> ExportRecord {
        ExportRecord {
            id: format!("r{i}"),
            category: category.into(),
            purposes: vec![purpose.into()],
            created_at: "2026-11-20T10:00:00Z".into(),
            data: serde_json::value::to_raw_value(
                &serde_json::json!({ "n": i, "text": "<b>hi</b>" }),
            )
            .expect("JSON"),
            restriction: None,
            source: None,
        }
    }

    #[test]
    fn the_answer_lists_every_purpose_recipient_and_retention_for_the_subjects_categories() {
        let p = jbsync();
        let cats: BTreeSet<String> = ["support", "account"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let info = article15(&p, Lang::En, &cats).unwrap();
        for purpose in p
            .purposes
            .iter()
            .filter(|x| x.categories.iter().any(|c| cats.contains(c)))
        {
            assert!(
                info.purposes.iter().any(|i| i.id == purpose.id),
                "purpose {} missing",
                purpose.id
            );
            for r in &purpose.recipients {
                assert!(
                    info.recipients.iter().any(|i| &i.id == r),
                    "recipient {r} of {} missing",
                    purpose.id
                );
            }
        }
        for c in &cats {
            let item = info.categories.iter().find(|i| &i.id == c).unwrap();
            assert!(
                item.retention.contains("months") || item.retention.contains("years"),
                "{}: {}",
                c,
                item.retention
            );
        }
        assert!(info.rights.iter().any(|r| r.contains("Art. 15 GDPR")));
        assert!(!info.authorities.is_empty());
    }

    #[test]
    fn json_csv_and_html_stream_every_record_and_escape_markup() {
        let p = jbsync();
        let info = article15(&p, Lang::Nl, &["support".to_string()].into()).unwrap();
        let mut json = Vec::new();
        assert_eq!(
            write_json(
                &mut json,
                &info,
                (0..3).map(|i| rec(i, "support", "support"))
            )
            .unwrap(),
            3
        );
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 3);
        let mut csv_out = Vec::new();
        write_csv(&mut csv_out, (0..3).map(|i| rec(i, "support", "support"))).unwrap();
        assert_eq!(String::from_utf8(csv_out).unwrap().lines().count(), 4);
        let mut html = Vec::new();
        write_html(
            &mut html,
            Lang::Nl,
            &info,
            (0..2).map(|i| rec(i, "support", "support")),
        )
        .unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"nl\">"));
        assert!(html.contains("&lt;b&gt;hi&lt;/b&gt;") && !html.contains("<b>hi</b>"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    /// Issue 22: a purpose may rely on alternative bases; the answer names each with its
    /// article and the policy's note on which applies when (Art. 15(1)(a), 13(1)(c)).
    #[test]
    fn a_purpose_with_several_bases_lists_each_with_the_note_in_the_subjects_language() {
        let p = crate::example_policies::example("webshop");
        let newsletter = p.purpose("newsletter").unwrap();
        let cats: BTreeSet<String> = newsletter.categories.iter().cloned().collect();
        let info = article15(&p, Lang::Nl, &cats).unwrap();
        let item = info.purposes.iter().find(|i| i.id == "newsletter").unwrap();
        assert!(
            item.detail.starts_with(
                "Toestemming (art. 6 lid 1 onder a AVG) of noodzakelijk voor de behartiging van gerechtvaardigde belangen (art. 6 lid 1 onder f AVG). Wie zich aanmeldt"
            ),
            "{}",
            item.detail
        );
    }

    #[test]
    fn portability_covers_provided_data_on_consent_or_contract_only() {
        let p = jbsync();
        assert!(
            portable(&p, &rec(0, "support", "support")),
            "support data the customer gave, on contract"
        );
        let generated = p
            .categories
            .iter()
            .find(|c| c.source.kind == SourceKind::Generated)
            .unwrap();
        let purpose = generated.purposes.first().unwrap();
        assert!(
            !portable(&p, &rec(1, &generated.id, purpose)),
            "data we generated is not portable"
        );
    }

    /// Issue 22: the report showed a Dutch subject English headings and records as raw JSON in
    /// a narrow column. Art. 12(1): information in an intelligible and easily accessible form.
    #[test]
    fn records_read_as_label_and_value_in_the_subjects_language() {
        let p = jbsync();
        let info = article15(&p, Lang::Nl, &["support".to_string()].into()).unwrap();
        let mut r = rec(7, "support", "support");
        r.data = serde_json::value::to_raw_value(&serde_json::json!({
            "first_name": "Anna",
            "tags": ["vip", "nl"],
            "address": { "city": "Delft" },
            "opted_in": true
        }))
        .unwrap();
        let mut html = Vec::new();
        write_html(&mut html, Lang::Nl, &info, std::iter::once(r)).unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("<html lang=\"nl\">"));
        assert!(html.contains("<dt>First name</dt><dd>Anna</dd>"), "{html}");
        assert!(html.contains("<dt>Tags</dt><dd>vip, nl</dd>"), "{html}");
        assert!(
            html.contains("<dt>Address</dt><dd><dl><dt>City</dt><dd>Delft</dd></dl></dd>"),
            "{html}"
        );
        assert!(html.contains("<dt>Opted in</dt><dd>ja</dd>"), "{html}");
        assert!(html.contains("<dt>Vastgelegd op</dt><dd><time datetime=\"2026-11-20T10:00:00Z\">20 november 2026</time></dd>"), "{html}");
        assert!(
            !html.contains("&quot;first_name&quot;") && !html.contains("<code>{"),
            "raw JSON: {html}"
        );
        assert!(
            !html.contains("Your records") && !html.contains("Category</th>"),
            "English in a Dutch report"
        );
        assert!(
            html.contains("(art. 6 lid 1 onder b AVG)"),
            "Dutch citations: {html}"
        );
    }
}
