//! Accuracy on the committed labelled corpus (bench/pii/make_corpus.py) and on a hand-written
//! set of the forms the generated corpus lacks (tests/data/pii_recall.txt), so precision and
//! recall cannot regress silently. Matching: same type and overlapping spans.

use std::collections::BTreeMap;

use custos_pii::{EntityType, Scanner};

const CORPUS: &str = include_str!("../data/pii_corpus.jsonl");
const RECALL_SET: &str = include_str!("../data/pii_recall.txt");

/// A text with its gold spans: (type, start, end) in bytes.
type Labelled = (String, Vec<(String, usize, usize)>);

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn precision(self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }
    fn recall(self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }
    fn f1(self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn corpus() -> Vec<Labelled> {
    CORPUS
        .lines()
        .map(|line| {
            let rec: serde_json::Value = serde_json::from_str(line).expect("corpus lines are JSON");
            let text = rec["text"].as_str().expect("text is a string").to_string();
            let gold = rec["entities"]
                .as_array()
                .expect("entities is an array")
                .iter()
                .map(|e| {
                    let at = |k: &str| {
                        usize::try_from(e[k].as_u64().expect("offsets are numbers"))
                            .expect("offsets fit usize")
                    };
                    (
                        e["type"].as_str().expect("type").to_string(),
                        at("start"),
                        at("end"),
                    )
                })
                .collect();
            (text, gold)
        })
        .collect()
}

/// The hand-written set: `[[TYPE|value]]` marks a gold span; `#` lines are comments.
fn recall_set() -> Vec<Labelled> {
    RECALL_SET
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (mut text, mut gold, mut rest) = (String::new(), Vec::new(), line);
            while let Some(open) = rest.find("[[") {
                text.push_str(&rest[..open]);
                let close = rest[open..].find("]]").expect("every [[ has its ]]") + open;
                let (t, value) = rest[open + 2..close]
                    .split_once('|')
                    .expect("[[TYPE|value]]");
                gold.push((t.to_string(), text.len(), text.len() + value.len()));
                text.push_str(value);
                rest = &rest[close + 2..];
            }
            text.push_str(rest);
            (text, gold)
        })
        .collect()
}

/// Counts per type, and true and false positives per recognizer (a type such as PHONE has
/// more than one; misses belong to no recognizer). The scanner looks for every type, as
/// users run it; only findings of the `scored` types count.
fn evaluate(set: &[Labelled], scored: &[EntityType]) -> BTreeMap<String, Counts> {
    let scanner = Scanner::new();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_recognizer: BTreeMap<&'static str, Counts> = BTreeMap::new();
    for (text, gold) in set {
        let mut matched = vec![false; gold.len()];
        for f in scanner
            .scan(text)
            .into_iter()
            .filter(|f| scored.contains(&f.entity))
        {
            let t = f.entity.as_str().to_string();
            let hit = gold
                .iter()
                .enumerate()
                .position(|(i, g)| !matched[i] && g.0 == t && f.start < g.2 && g.1 < f.end);
            let c = counts.entry(t).or_default();
            let r = by_recognizer.entry(f.recognizer).or_default();
            match hit {
                Some(i) => {
                    matched[i] = true;
                    c.tp += 1;
                    r.tp += 1;
                }
                None => {
                    c.fp += 1;
                    r.fp += 1;
                    eprintln!("  fp {}: {:?} in {text:?}", f.entity, &text[f.start..f.end]);
                }
            }
        }
        for (i, g) in gold.iter().enumerate() {
            if !matched[i] {
                counts.entry(g.0.clone()).or_default().fn_ += 1;
                eprintln!("  fn {}: {:?} in {text:?}", g.0, &text[g.1..g.2]);
            }
        }
    }
    for (name, c) in &by_recognizer {
        eprintln!(
            "  recognizer {name:<28} tp {:>4} fp {:>4}  P {:.3}",
            c.tp,
            c.fp,
            c.precision()
        );
    }
    counts
}

/// Prints precision, recall and F1 of each type and returns the types below their floor.
fn below_floor(
    counts: &BTreeMap<String, Counts>,
    types: &[EntityType],
    floor: impl Fn(EntityType) -> f64,
) -> Vec<String> {
    let mut failures = Vec::new();
    for &t in types {
        let c = counts.get(t.as_str()).copied().unwrap_or_default();
        let f1 = c.f1();
        eprintln!(
            "{:<18} tp {:>4} fp {:>4} fn {:>4}  P {:.3} R {:.3} F1 {:.3}",
            t.as_str(),
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall(),
            f1
        );
        if f1 < floor(t) {
            failures.push(format!("{t}: F1 {f1:.3} < {}", floor(t)));
        }
    }
    failures
}

#[test]
fn f1_on_the_labelled_corpus_is_at_least_0_9_per_type_and_0_8_for_names() {
    let counts = evaluate(&corpus(), &EntityType::ALL);
    let failures = below_floor(&counts, &EntityType::ALL, |t| {
        if t == EntityType::Person { 0.8 } else { 0.9 }
    });
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn us_and_international_phones_postcodes_in_sentences_and_plates_without_dashes_reach_f1_0_9() {
    let kinds = [
        EntityType::Phone,
        EntityType::PostcodeNl,
        EntityType::LicensePlateNl,
    ];
    let counts = evaluate(&recall_set(), &kinds);
    let failures = below_floor(&counts, &kinds, |_| 0.9);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn the_hand_written_set_has_thirty_positives_and_thirty_look_alikes() {
    let set = recall_set();
    let positives: usize = set.iter().map(|(_, g)| g.len()).sum();
    let look_alikes = set.iter().filter(|(_, g)| g.is_empty()).count();
    assert!(
        positives >= 30 && look_alikes >= 30,
        "{positives} / {look_alikes}"
    );
}
