//! Scanning a stream line by line in bounded memory.
//!
//! Lines longer than the chunk size (a 100 MB log line without a newline) are cut into
//! chunks, preferably after whitespace so a value is not cut in two, never inside a UTF-8
//! character. Invalid UTF-8 is replaced by U+FFFD and counted; offsets refer to the text
//! after that replacement.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, ErrorKind};

use crate::{EntityType, Finding, PiiError, Scanner};

/// The default chunk size (the longest piece of a line scanned at once): 1 MiB.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// A piece of one line, handed to the sink with its findings.
#[derive(Debug)]
pub struct Chunk<'a> {
    /// The 1-based line number.
    pub line: u64,
    /// Byte offset of this chunk within its (decoded) line.
    pub offset: usize,
    /// The decoded text, without the line's `\n`.
    pub text: &'a str,
    /// True when the line's `\n` follows this chunk.
    pub newline: bool,
}

/// Totals over a whole stream.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StreamStats {
    /// Lines seen (a last line without `\n` counts).
    pub lines: u64,
    /// Input bytes read.
    pub bytes: u64,
    /// Invalid UTF-8 sequences replaced by U+FFFD.
    pub invalid_utf8: u64,
    /// Findings per type.
    pub findings: BTreeMap<EntityType, u64>,
}

/// Reads `reader` to the end, scans it with `scanner` and hands each line (or piece of a
/// long line) with its findings (spans relative to that piece) to `sink`. Lines are
/// scanned in blocks of up to 64 KiB at once for speed; memory stays within about two
/// chunks whatever the input. Stops at the first error of the reader or the sink.
pub fn scan_stream<R, E>(
    mut reader: R,
    scanner: &Scanner,
    max_chunk: usize,
    mut sink: impl FnMut(&Chunk<'_>, &[Finding]) -> Result<(), E>,
) -> Result<StreamStats, E>
where
    R: BufRead,
    E: From<PiiError>,
{
    if max_chunk < 64 {
        return Err(PiiError::ChunkTooSmall(max_chunk).into());
    }
    let block = max_chunk.min(BLOCK);
    let mut stats = StreamStats::default();
    let mut buf: Vec<u8> = Vec::with_capacity(block.max(1 << 12));
    let mut pos = Position { line: 1, offset: 0 };
    let mut has_newline = false;
    loop {
        // Fill to a block, and further (up to a chunk) while no line has ended yet.
        let mut eof = false;
        while buf.len() < block || (!has_newline && buf.len() < max_chunk) {
            let avail = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(PiiError::Io(e).into()),
            };
            if avail.is_empty() {
                eof = true;
                break;
            }
            let take = avail.len().min(max_chunk - buf.len());
            has_newline |= memchr::memchr(b'\n', &avail[..take]).is_some();
            buf.extend_from_slice(&avail[..take]);
            reader.consume(take);
            stats.bytes += take as u64;
        }
        if buf.is_empty() {
            if pos.offset > 0 {
                stats.lines += 1; // a long last line that ended exactly at a chunk cut
            }
            break;
        }
        if let Some(nl) = memchr::memrchr(b'\n', &buf) {
            scan_block(&buf[..=nl], true, scanner, &mut pos, &mut stats, &mut sink)?;
            buf.drain(..=nl);
        } else if eof {
            scan_block(&buf, false, scanner, &mut pos, &mut stats, &mut sink)?;
            buf.clear();
        } else {
            let cut = soft_cut(&buf);
            scan_block(&buf[..cut], false, scanner, &mut pos, &mut stats, &mut sink)?;
            buf.drain(..cut);
        }
        has_newline = memchr::memchr(b'\n', &buf).is_some();
        if eof && buf.is_empty() {
            if pos.offset > 0 {
                stats.lines += 1;
            }
            break;
        }
    }
    Ok(stats)
}

/// How many bytes of complete lines are scanned in one call of the scanner.
const BLOCK: usize = 64 << 10;

/// Where the next piece of input sits: its line and its offset within that line.
struct Position {
    line: u64,
    offset: usize,
}

/// Scans `bytes` (whole lines when `ends_line`, else the end of the input or a piece of a
/// long line) in one call and hands each line's piece and findings to `sink`.
fn scan_block<E: From<PiiError>>(
    bytes: &[u8],
    ends_line: bool,
    scanner: &Scanner,
    pos: &mut Position,
    stats: &mut StreamStats,
    sink: &mut impl FnMut(&Chunk<'_>, &[Finding]) -> Result<(), E>,
) -> Result<(), E> {
    let (text, invalid) = decode(bytes);
    stats.invalid_utf8 += invalid;
    let found = scanner.scan(&text);
    for f in &found {
        *stats.findings.entry(f.entity).or_insert(0) += 1;
    }
    let body = if ends_line {
        &text[..text.len() - 1]
    } else {
        &text[..]
    };
    let mut next = 0; // index into `found`
    let mut line_start = 0;
    let mut local: Vec<Finding> = Vec::new();
    let mut segments = body.split('\n').peekable();
    while let Some(seg) = segments.next() {
        let line_end = line_start + seg.len();
        let newline = ends_line || segments.peek().is_some();
        local.clear();
        while next < found.len() && found[next].start < line_end {
            let f = &found[next];
            if f.start >= line_start && f.end <= line_end {
                local.push(Finding {
                    start: f.start - line_start,
                    end: f.end - line_start,
                    ..f.clone()
                });
            }
            next += 1;
        }
        sink(
            &Chunk {
                line: pos.line,
                offset: pos.offset,
                text: seg,
                newline,
            },
            &local,
        )?;
        if newline {
            stats.lines += 1;
            pos.line += 1;
            pos.offset = 0;
        } else {
            pos.offset += seg.len();
        }
        line_start = line_end + 1;
    }
    Ok(())
}

/// Where to cut a full buffer: after the last whitespace in its final quarter, else at
/// the last UTF-8 character boundary.
fn soft_cut(buf: &[u8]) -> usize {
    let len = buf.len();
    let floor = len - (len / 4).min(4096);
    if let Some(i) = buf[floor..].iter().rposition(|b| b.is_ascii_whitespace()) {
        return floor + i + 1;
    }
    let mut cut = len;
    // Back up over at most three continuation bytes to the start of a character.
    for _ in 0..3 {
        if cut > 1 && (buf[cut - 1] & 0xC0) == 0x80 {
            cut -= 1;
        } else {
            break;
        }
    }
    if cut > 0 && buf[cut - 1] >= 0xC0 {
        cut -= 1; // a lead byte whose continuation bytes are in the next chunk
    }
    if cut == 0 { len } else { cut }
}

/// Decodes UTF-8, replacing each invalid sequence by U+FFFD; returns how many there were.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, u64) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), 0);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut invalid = 0;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            invalid += 1;
        }
    }
    (Cow::Owned(out), invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], chunk: usize) -> (Vec<(u64, usize, String, bool)>, StreamStats) {
        let mut seen = Vec::new();
        let stats = scan_stream::<_, PiiError>(input, &Scanner::new(), chunk, |c, _| {
            seen.push((c.line, c.offset, c.text.to_string(), c.newline));
            Ok(())
        })
        .expect("in-memory input cannot fail");
        (seen, stats)
    }

    #[test]
    fn lines_are_numbered_from_one_and_findings_counted() {
        let (seen, stats) = collect(b"hallo\nmail a@b.nl\nlast", DEFAULT_CHUNK);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].0, 2);
        assert!(!seen[2].3);
        assert_eq!(stats.lines, 3);
        assert_eq!(stats.findings.get(&EntityType::Email), Some(&1));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let (seen, stats) = collect(b"ok \xff\xfe a@b.nl\n", DEFAULT_CHUNK);
        assert_eq!(stats.invalid_utf8, 2);
        assert!(seen[0].2.contains('\u{FFFD}'));
    }

    #[test]
    fn long_lines_are_chunked_on_whitespace_and_char_boundaries() {
        let mut input = "word é ".repeat(200).into_bytes();
        input.extend_from_slice(
            "ééééééééééééééééééééééééééééééééééééééééééé"
                .repeat(10)
                .as_bytes(),
        );
        let (seen, _) = collect(&input, 64);
        assert!(seen.len() > 10);
        assert!(seen.iter().all(|c| c.0 == 1 && c.2.len() <= 64));
        let joined: String = seen.iter().map(|c| c.2.as_str()).collect();
        assert_eq!(joined.as_bytes(), &input[..]);
        let mut expect = 0;
        for c in &seen {
            assert_eq!(c.1, expect);
            expect += c.2.len();
        }
    }

    #[test]
    fn findings_keep_their_line_and_offset_across_blocks() {
        let mut input = String::new();
        for i in 0..20_000 {
            input.push_str(&format!("regel {i} mail a{i}@b.nl\n"));
        }
        let mut seen = 0u64;
        let stats =
            scan_stream::<_, PiiError>(input.as_bytes(), &Scanner::new(), 4096, |c, found| {
                assert_eq!(found.len(), 1, "line {}", c.line);
                let expect = format!("a{}@b.nl", c.line - 1);
                assert_eq!(&c.text[found[0].start..found[0].end], expect);
                seen += 1;
                Ok(())
            })
            .expect("in-memory input cannot fail");
        assert_eq!((seen, stats.lines), (20_000, 20_000));
    }

    #[test]
    fn tiny_chunk_sizes_are_refused() {
        let r = scan_stream::<_, PiiError>(&b""[..], &Scanner::new(), 8, |_, _| Ok(()));
        assert!(matches!(r, Err(PiiError::ChunkTooSmall(8))));
    }
}
