//! One download for an access or portability answer (Art. 15, 20 GDPR): a zip archive holding
//! `data.json`, `data.csv` and, for access, `report.html` (the Art. 15(1) report with every
//! record). Zip because every operating system opens it without installing anything.
//!
//! The archive is written in one forward pass to any [`Write`] (a file, an HTTP body): each
//! entry is stored uncompressed, its CRC-32 and size follow it in a data descriptor, and the
//! central directory comes last (ZIP64 records are added only when a size or an offset passes
//! 4 GiB). Records are never collected: the record source is asked once per data file and
//! pushes its records one by one, so memory stays flat however many records the subject has;
//! the report lists the first [`REPORT_ROWS`] and counts the rest.
//! Storing rather than deflating keeps the answer fast to write (the figure in BENCHMARKS.md);
//! the JSON and CSV stay readable by any tool.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufWriter, Write};

use custos_policy::{Lang, Policy};
use jiff::Timestamp;
use serde::Serialize;

use crate::access::{
    CategoryCount, CsvWriter, ExportError, ExportRecord, HtmlWriter, JsonWriter, RecordSummary,
    RowNames, article15, html_row, portable,
};

/// Which right the answer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// Art. 15: every record, restricted ones marked, with the Art. 15(1) report.
    Access,
    /// Art. 20(1): only what [`portable`] admits (data the subject provided, processed on
    /// consent or contract), machine-readable only (JSON and CSV).
    Portability,
}

impl AnswerKind {
    /// The files of the archive, in order.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            AnswerKind::Access => &[JSON, CSV, HTML],
            AnswerKind::Portability => &[JSON, CSV],
        }
    }
}

const JSON: &str = "data.json";
const CSV: &str = "data.csv";
const HTML: &str = "report.html";

/// What an answer holds (no personal data: counts and names only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Which right it serves.
    pub kind: AnswerKind,
    /// Records in each file.
    pub records: u64,
    /// The files in the archive.
    pub files: Vec<&'static str>,
    /// Size of the archive in bytes.
    pub bytes: u64,
}

/// A record source: called once per data file of the archive (`data.json`, then `data.csv`), it
/// pushes every record of the answer to the sink it is given, in the same order each time (the
/// vault's `TenantVault::for_each_record` does this with keyset-paged reads). Records of any
/// category may be pushed: the writer filters for portability.
pub type Source<'a, E> =
    dyn FnMut(&mut dyn FnMut(ExportRecord) -> Result<(), E>) -> Result<(), E> + 'a;

/// Records the report lists at most; all of them are in `data.json` and `data.csv`. A table of
/// a hundred thousand rows is not something a person reads, and a browser barely opens it.
pub const REPORT_ROWS: u64 = 1000;

/// Bytes of rendered rows the report holds at most (the rows wait in memory until the report
/// is written, after the data files).
pub const REPORT_BYTES: usize = 4 << 20;

/// Writes the answer archive to `out`. `categories` are the categories of the subject's records
/// (restricted ones included); the report's Art. 15(1) information is drawn from the policy for
/// them. `at` dates the archive's entries.
///
/// The source is read twice, once for `data.json` and once for `data.csv`; the first pass also
/// counts the records per category and keeps the report's rows (the first [`REPORT_ROWS`], within
/// [`REPORT_BYTES`]), so `report.html` needs no pass of its own. It says how many records there
/// are, per category and restricted, and where all of them are.
///
/// Fails with [`ExportError::Changed`] if the source gives a different number of records for one
/// file than for another; nothing half-consistent is presented as complete.
pub fn write_answer<E: From<ExportError>>(
    policy: &Policy,
    lang: Lang,
    kind: AnswerKind,
    categories: &BTreeSet<String>,
    at: Timestamp,
    records: &mut Source<'_, E>,
    out: impl Write,
) -> Result<Written, E> {
    let mut zip = ZipWriter::new(out, at);
    let info = match kind {
        AnswerKind::Access => Some(article15(policy, lang, categories)?),
        AnswerKind::Portability => None,
    };
    let keep = |r: &ExportRecord| kind == AnswerKind::Access || portable(policy, r);
    let mut per_category: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut rows = String::new();
    let names = info.as_ref().map(|i| RowNames::new(lang, i));
    let mut shown = 0u64;
    let total = zip.entry(JSON, |w| -> Result<u64, E> {
        let mut j = JsonWriter::start(w, info.as_ref())?;
        records(&mut |r| {
            if !keep(&r) {
                return Ok(());
            }
            j.push(&r)?;
            if let Some(names) = &names {
                let c = per_category.entry(r.category.clone()).or_default();
                c.0 += 1;
                c.1 += u64::from(r.restriction.is_some());
                if shown < REPORT_ROWS && rows.len() < REPORT_BYTES {
                    rows.push_str(&html_row(names, &r));
                    shown += 1;
                }
            }
            Ok(())
        })?;
        Ok(j.finish()?.1)
    })?;
    let csv = zip.entry(CSV, |w| -> Result<u64, E> {
        let mut c = CsvWriter::start(w)?;
        records(&mut |r| {
            if keep(&r) {
                c.push(&r)?;
            }
            Ok(())
        })?;
        Ok(c.finish()?.1)
    })?;
    if csv != total {
        return Err(ExportError::Changed {
            first_file: JSON,
            first: total,
            second_file: CSV,
            second: csv,
        }
        .into());
    }
    if let Some(info) = &info {
        let summary = RecordSummary {
            total,
            shown,
            restricted: per_category.values().map(|c| c.1).sum(),
            categories: per_category
                .into_iter()
                .map(|(id, (records, restricted))| CategoryCount {
                    name: info
                        .categories
                        .iter()
                        .find(|c| c.id == id)
                        .map_or_else(|| id.clone(), |c| c.name.clone()),
                    id,
                    records,
                    restricted,
                })
                .collect(),
        };
        zip.entry(HTML, |w| -> Result<(), E> {
            let mut h = HtmlWriter::start(w, lang, info, Some(&summary))?;
            h.push_row(&rows)?;
            h.finish()?;
            Ok(())
        })?;
    }
    let bytes = zip.finish().map_err(ExportError::from)?;
    Ok(Written {
        kind,
        records: total,
        files: kind.files().to_vec(),
        bytes,
    })
}

/// A forward-only zip writer for stored entries with data descriptors (APPNOTE 6.3.10,
/// sections 4.3 and 4.4), with ZIP64 extensions where sizes or offsets need them.
struct ZipWriter<W: Write> {
    out: Counting<W>,
    entries: Vec<Entry>,
    time: u16,
    date: u16,
}

struct Entry {
    name: &'static str,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Counts what goes through, for offsets.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One entry's data on its way out: checksummed and counted.
struct EntryData<'a, W: Write> {
    out: &'a mut Counting<W>,
    crc: crc32fast::Hasher,
    size: u64,
}

impl<W: Write> Write for EntryData<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.out.write(buf)?;
        self.crc.update(&buf[..k]);
        self.size += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Bit 3: sizes and CRC in a data descriptor; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
/// Made by Unix (3), spec version 4.5.
const MADE_BY: u16 = (3 << 8) | 45;
/// A regular file, rw-r--r--.
const UNIX_FILE: u32 = 0o100_644 << 16;
const MAX32: u64 = 0xFFFF_FFFF;

impl<W: Write> ZipWriter<W> {
    fn new(out: W, at: Timestamp) -> Self {
        let (time, date) = dos_time(at);
        Self {
            out: Counting { inner: out, n: 0 },
            entries: Vec::new(),
            time,
            date,
        }
    }

    /// Writes one entry whose data `body` produces.
    fn entry<T, E: From<ExportError>>(
        &mut self,
        name: &'static str,
        body: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    ) -> Result<T, E> {
        let offset = self.out.n;
        let mut h = Vec::with_capacity(30 + name.len());
        put32(&mut h, LOCAL);
        put16(&mut h, 20);
        put16(&mut h, FLAGS);
        put16(&mut h, 0); // stored
        put16(&mut h, self.time);
        put16(&mut h, self.date);
        put32(&mut h, 0); // CRC, size and compressed size follow in the descriptor
        put32(&mut h, 0);
        put32(&mut h, 0);
        put16(&mut h, name.len() as u16);
        put16(&mut h, 0);
        h.extend_from_slice(name.as_bytes());
        self.out.write_all(&h).map_err(ExportError::from)?;
        // Records arrive in small writes; checksum and write them in large blocks.
        let mut data = BufWriter::with_capacity(
            1 << 16,
            EntryData {
                out: &mut self.out,
                crc: crc32fast::Hasher::new(),
                size: 0,
            },
        );
        let value = body(&mut data)?;
        let data = data
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))?;
        let (crc, size) = (data.crc.finalize(), data.size);
        let mut d = Vec::with_capacity(24);
        put32(&mut d, DESCRIPTOR);
        put32(&mut d, crc);
        if size >= MAX32 {
            put64(&mut d, size);
            put64(&mut d, size);
        } else {
            put32(&mut d, size as u32);
            put32(&mut d, size as u32);
        }
        self.out.write_all(&d).map_err(ExportError::from)?;
        self.entries.push(Entry {
            name,
            crc,
            size,
            offset,
        });
        Ok(value)
    }

    /// Writes the central directory and the end records; returns the archive's size.
    fn finish(mut self) -> io::Result<u64> {
        let start = self.out.n;
        let mut c = Vec::new();
        for e in &self.entries {
            let mut extra = Vec::new();
            if e.size >= MAX32 {
                put64(&mut extra, e.size);
                put64(&mut extra, e.size);
            }
            if e.offset >= MAX32 {
                put64(&mut extra, e.offset);
            }
            let zip64 = !extra.is_empty();
            put32(&mut c, CENTRAL);
            put16(&mut c, MADE_BY);
            put16(&mut c, if zip64 { 45 } else { 20 });
            put16(&mut c, FLAGS);
            put16(&mut c, 0);
            put16(&mut c, self.time);
            put16(&mut c, self.date);
            put32(&mut c, e.crc);
            put32(&mut c, e.size.min(MAX32) as u32);
            put32(&mut c, e.size.min(MAX32) as u32);
            put16(&mut c, e.name.len() as u16);
            put16(&mut c, if zip64 { extra.len() as u16 + 4 } else { 0 });
            put16(&mut c, 0); // comment
            put16(&mut c, 0); // disk
            put16(&mut c, 0); // internal attributes
            put32(&mut c, UNIX_FILE);
            put32(&mut c, e.offset.min(MAX32) as u32);
            c.extend_from_slice(e.name.as_bytes());
            if zip64 {
                put16(&mut c, 0x0001);
                put16(&mut c, extra.len() as u16);
                c.extend_from_slice(&extra);
            }
        }
        self.out.write_all(&c)?;
        let size = c.len() as u64;
        let count = self.entries.len() as u64;
        let mut end = Vec::new();
        if start >= MAX32 || size >= MAX32 {
            let end64 = self.out.n;
            put32(&mut end, END64);
            put64(&mut end, 44);
            put16(&mut end, MADE_BY);
            put16(&mut end, 45);
            put32(&mut end, 0);
            put32(&mut end, 0);
            put64(&mut end, count);
            put64(&mut end, count);
            put64(&mut end, size);
            put64(&mut end, start);
            put32(&mut end, LOCATOR64);
            put32(&mut end, 0);
            put64(&mut end, end64);
            put32(&mut end, 1);
        }
        put32(&mut end, END);
        put16(&mut end, 0);
        put16(&mut end, 0);
        put16(&mut end, count as u16);
        put16(&mut end, count as u16);
        put32(&mut end, size.min(MAX32) as u32);
        put32(&mut end, start.min(MAX32) as u32);
        put16(&mut end, 0);
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out.n)
    }
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// MS-DOS time and date (UTC; two-second resolution), clamped to the years DOS can name.
fn dos_time(at: Timestamp) -> (u16, u16) {
    let t = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let year = t.year().clamp(1980, 2107);
    let time = ((t.hour() as u16) << 11) | ((t.minute() as u16) << 5) | (t.second() as u16 / 2);
    let date = (((year - 1980) as u16) << 9) | ((t.month() as u16) << 5) | t.day() as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use crate::example_policies::jbsync;
    use std::process::Command;

    use custos_policy::model::SourceKind;

    use super::*;

    fn rec(i: usize, category: &str, purpose: &str) -> ExportRecord {
        ExportRecord {
            id: format!("r{i}"),
            category: category.into(),
            purposes: vec![purpose.into()],
            created_at: "2026-11-20T10:00:00Z".into(),
            data: serde_json::value::to_raw_value(
                &serde_json::json!({ "n": i, "naam": "Jänsen, \"J\"" }),
            )
            .expect("JSON"),
            restriction: (i == 1).then(|| "Art. 17(3)(b) GDPR".to_owned()),
            source: None,
        }
    }

    /// Writes an answer over `recs` into a fresh directory; returns the directory.
    fn answer(
        kind: AnswerKind,
        recs: &[ExportRecord],
        name: &str,
    ) -> (std::path::PathBuf, Written) {
        let p = jbsync();
        let cats = recs.iter().map(|r| r.category.clone()).collect();
        let mut zip = Vec::new();
        let written = write_answer::<ExportError>(
            &p,
            Lang::En,
            kind,
            &cats,
            "2026-11-23T09:30:00Z".parse().expect("valid time"),
            &mut |sink| recs.iter().cloned().try_for_each(&mut *sink),
            &mut zip,
        )
        .expect("the answer is written");
        assert_eq!(written.bytes, zip.len() as u64);
        let dir =
            std::env::temp_dir().join(format!("custos-archive-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("answer.zip"), &zip).expect("zip written");
        (dir, written)
    }

    /// Extracts with Python's standard `zipfile` (which checks every CRC); `None` without python3.
    fn extract(dir: &std::path::Path) -> Option<()> {
        let status = Command::new("python3")
            .args(["-m", "zipfile", "-e", "answer.zip", "out"])
            .current_dir(dir)
            .status()
            .ok()?;
        assert!(
            status.success(),
            "python3 -m zipfile could not extract the answer"
        );
        let test = Command::new("python3")
            .args(["-m", "zipfile", "-t", "answer.zip"])
            .current_dir(dir)
            .output()
            .expect("python3 runs");
        assert!(test.status.success(), "the archive's CRCs do not verify");
        Some(())
    }

    #[test]
    fn an_access_answer_opens_with_a_standard_tool_and_holds_json_csv_and_the_report() {
        let p = jbsync();
        let generated = p
            .categories
            .iter()
            .find(|c| c.source.kind == SourceKind::Generated)
            .expect("jbsync has generated data");
        let recs = vec![
            rec(0, "support", "support"),
            rec(1, "support", "support"),
            rec(2, &generated.id, &generated.purposes[0]),
        ];
        let (dir, written) = answer(AnswerKind::Access, &recs, "access");
        assert_eq!(written.records, 3);
        assert_eq!(written.files, ["data.json", "data.csv", "report.html"]);
        if extract(&dir).is_none() {
            eprintln!("python3 not found; the archive was not opened with a standard tool");
            return;
        }
        let out = dir.join("out");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("data.json")).expect("data.json"))
                .expect("data.json is JSON");
        assert_eq!(json["records"].as_array().map(Vec::len), Some(3));
        assert_eq!(json["records"][1]["restriction"], "Art. 17(3)(b) GDPR");
        assert!(
            json["information"]["purposes"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
        );
        let csv = std::fs::read_to_string(out.join("data.csv")).expect("data.csv");
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = rows.records().collect::<Result<_, _>>().expect("CSV");
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[0][5], r#"{"n":0,"naam":"Jänsen, \"J\""}"#);
        let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
        assert!(html.contains("restricted (Art. 17(3)(b) GDPR)"));
        assert!(html.contains("We hold 3 records about you, 1 of them restricted"));
        assert!(html.contains("They are listed below"));
        assert_eq!(html.matches("<article class=\"record\">").count(), 3);
    }

    #[test]
    fn the_report_lists_the_first_records_and_says_where_all_of_them_are() {
        let n = REPORT_ROWS as usize + 5;
        let recs: Vec<_> = (0..n).map(|i| rec(i + 10, "support", "support")).collect();
        let (dir, written) = answer(AnswerKind::Access, &recs, "many");
        assert_eq!(written.records, n as u64);
        if extract(&dir).is_none() {
            return;
        }
        let out = dir.join("out");
        let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
        assert_eq!(
            html.matches("<article class=\"record\">").count(),
            REPORT_ROWS as usize
        );
        assert!(html.contains(&format!(
            "This report lists the first {REPORT_ROWS}; all {n} are in data.csv"
        )));
        assert!(html.contains(&format!("<li>Support communication: {n}</li>")));
        let csv = std::fs::read_to_string(out.join("data.csv")).expect("data.csv");
        assert_eq!(csv.lines().count(), n + 1);
    }

    #[test]
    fn a_portability_answer_holds_only_provided_data_on_consent_or_contract_as_json_and_csv() {
        let p = jbsync();
        let generated = p
            .categories
            .iter()
            .find(|c| c.source.kind == SourceKind::Generated)
            .expect("jbsync has generated data");
        let recs = vec![
            rec(0, "support", "support"),
            rec(3, &generated.id, &generated.purposes[0]),
            rec(4, "support", "support"),
        ];
        let (dir, written) = answer(AnswerKind::Portability, &recs, "portability");
        assert_eq!(
            written.records, 2,
            "Art. 20(1): generated data is not portable"
        );
        assert_eq!(written.files, ["data.json", "data.csv"]);
        if extract(&dir).is_none() {
            return;
        }
        let out = dir.join("out");
        assert!(!out.join("report.html").exists());
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("data.json")).expect("data.json"))
                .expect("data.json is JSON");
        let ids: Vec<&str> = json["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(ids, ["r0", "r4"]);
        assert!(json.get("information").is_none());
    }

    #[test]
    fn an_answer_for_a_subject_without_records_is_a_valid_archive() {
        let (dir, written) = answer(AnswerKind::Access, &[], "empty");
        assert_eq!(written.records, 0);
        if extract(&dir).is_some() {
            let json = std::fs::read_to_string(dir.join("out/data.json")).expect("data.json");
            assert!(json.ends_with("\"records\":[]}\n"));
        }
    }

    #[test]
    fn records_that_change_between_files_fail_the_answer() {
        let p = jbsync();
        let mut pass = 0;
        let err = write_answer::<ExportError>(
            &p,
            Lang::En,
            AnswerKind::Access,
            &["support".to_string()].into(),
            Timestamp::UNIX_EPOCH,
            &mut |sink| {
                pass += 1;
                (0..pass).try_for_each(|i| sink(rec(i, "support", "support")))
            },
            io::sink(),
        )
        .expect_err("a second pass with more records is refused");
        assert!(matches!(
            err,
            ExportError::Changed {
                first: 1,
                second: 2,
                ..
            }
        ));
    }

    /// The report a subject reads, in Dutch, for two records of which one is restricted: the
    /// Art. 15(1) information drawn from the jbsync policy, the summary, the rows.
    #[test]
    fn the_dutch_report_reads_as_reviewed() {
        let p = jbsync();
        let info = article15(
            &p,
            Lang::Nl,
            &["account".to_string(), "support".to_string()].into(),
        )
        .expect("the information");
        let mut r0 = rec(0, "support", "support");
        r0.created_at = "2026-10-01T08:00:00Z".into();
        let mut r1 = rec(1, "account", "service");
        r1.created_at = "2026-10-02T08:00:00Z".into();
        let summary = RecordSummary {
            total: 2,
            shown: 2,
            restricted: 1,
            categories: vec![
                CategoryCount {
                    id: "account".into(),
                    name: "Account-data".into(),
                    records: 1,
                    restricted: 1,
                },
                CategoryCount {
                    id: "support".into(),
                    name: "Communicatie met support".into(),
                    records: 1,
                    restricted: 0,
                },
            ],
        };
        let mut h = HtmlWriter::start(Vec::new(), Lang::Nl, &info, Some(&summary))
            .expect("the head renders");
        h.push(&r0).expect("row");
        h.push(&r1).expect("row");
        let (html, n) = h.finish().expect("the report closes");
        assert_eq!(n, 2);
        insta::assert_snapshot!(String::from_utf8(html).expect("UTF-8"));
    }

    #[test]
    fn dos_time_counts_from_1980_in_two_second_steps() {
        let (time, date) = dos_time("2026-11-23T09:30:15Z".parse().expect("valid"));
        assert_eq!(date, (46 << 9) | (11 << 5) | 23);
        assert_eq!(time, (9 << 11) | (30 << 5) | 7);
        assert_eq!(dos_time(Timestamp::UNIX_EPOCH).1, (1 << 5) | 1);
    }
}
