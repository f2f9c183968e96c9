//! Never panic, always in bounds: pseudo-random inputs built from PII fragments, separators
//! and broken UTF-8 (a deterministic stand-in for the fuzz target that runs on stable).

use custos_pii::stream::scan_stream;
use custos_pii::{Operator, PiiError, Scanner, anonymize};

const PIECES: &[&str] = &[
    "Jan",
    " van ",
    "der ",
    "Berg",
    "@",
    "a.b",
    ".nl",
    "06",
    "-",
    "1234",
    "5678",
    " ",
    "+31",
    "(0)",
    "NL91",
    "ABNA",
    "0417",
    "1643",
    "00",
    "111222333",
    "4111",
    ":",
    "::",
    "ffff",
    "192.168.",
    "1.",
    "https://",
    "x.nl/u/",
    "?email=",
    "12-03-1985",
    "geboren ",
    "BSN ",
    "KvK ",
    "12-BDF-3",
    "1HGCM82633A004352",
    "1234 AB",
    "NL-",
    "(212) ",
    "555-0147",
    "1-",
    "(+",
    "GZ412T",
    "kenteken ",
    "é",
    "€",
    "\u{1F600}",
    "\n",
    "\t",
    "Mr. ",
    "Dhr. ",
    "'",
    "’",
    "O'",
    "Brien",
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_pii_soup_never_panics_and_findings_stay_in_bounds() {
    let scanner = Scanner::new();
    let mut rng = XorShift(0x5eed_cafe_f00d_0001);
    for _ in 0..3000 {
        let mut bytes = Vec::new();
        for _ in 0..rng.next() % 40 {
            let r = rng.next();
            if r.is_multiple_of(13) {
                bytes.push((r >> 8) as u8); // sometimes an arbitrary (maybe invalid) byte
            } else {
                bytes.extend_from_slice(PIECES[(r as usize >> 4) % PIECES.len()].as_bytes());
            }
        }
        let chunk = 64 + (rng.next() % 64) as usize;
        let result = scan_stream::<_, PiiError>(&bytes[..], &scanner, chunk, |c, found| {
            let mut prev = 0;
            for f in found {
                assert!(f.start < f.end && f.end <= c.text.len());
                assert!(c.text.is_char_boundary(f.start) && c.text.is_char_boundary(f.end));
                assert!(f.start >= prev);
                prev = f.end;
            }
            let _ = anonymize(c.text, found, &Operator::Mask { keep_last: 2 });
            Ok(())
        });
        assert!(result.is_ok());
    }
}

#[test]
fn a_long_line_without_newline_streams_in_bounded_chunks() {
    // 8 MiB of one line: every chunk handed out is at most the chunk size.
    let line = "x".repeat(8 << 20);
    let mut biggest = 0;
    let stats = scan_stream::<_, PiiError>(line.as_bytes(), &Scanner::new(), 1 << 16, |c, _| {
        biggest = biggest.max(c.text.len());
        Ok(())
    })
    .expect("in-memory input cannot fail");
    assert_eq!(stats.lines, 1);
    assert!(biggest <= 1 << 16);
}
