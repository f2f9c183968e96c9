//! Fuzz the PII scanner: arbitrary bytes through the streaming scanner (with a tiny chunk
//! size so long-line chunking and UTF-8 repair are exercised) and, when the bytes are UTF-8,
//! through `Scanner::scan` and every operator. Findings must be in bounds, on char
//! boundaries, sorted and non-overlapping; nothing may panic.
#![no_main]

use std::sync::LazyLock;

use custos_pii::stream::scan_stream;
use custos_pii::{Finding, Operator, PiiError, PseudonymKey, Scanner, anonymize, truncate_chars};
use libfuzzer_sys::fuzz_target;

static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::new);

fn check(text: &str, found: &[Finding]) {
    let mut prev_end = 0;
    for f in found {
        assert!(f.start < f.end && f.end <= text.len(), "span out of bounds");
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!(f.start >= prev_end, "findings overlap or are unsorted");
        assert!((0.0..=1.0).contains(&f.score));
        prev_end = f.end;
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = scan_stream::<_, PiiError>(data, &SCANNER, 64, |chunk, found| {
        check(chunk.text, found);
        Ok(())
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let found = SCANNER.scan(text);
        check(text, &found);
        let key = PseudonymKey::new("fuzz").expect("non-empty key");
        for op in [
            Operator::Redact,
            Operator::Mask { keep_last: 4 },
            Operator::Replace,
            Operator::Hash(key),
            Operator::TruncateIp,
            Operator::Generalize,
        ] {
            let _ = anonymize(text, &found, &op);
        }
        let _ = truncate_chars(text, data.len() % 17);
    }
});
