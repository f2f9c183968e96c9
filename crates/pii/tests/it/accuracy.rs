//! Accuracy on the committed labelled corpus (bench/pii/make_corpus.py), so precision and
//! recall cannot regress silently. Matching: same type and overlapping spans.

use std::collections::BTreeMap;

use custos_pii::{EntityType, Scanner};

const CORPUS: &str = include_str!("../data/pii_corpus.jsonl");

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn f1(self) -> f64 {
        let p = f64::from(self.tp) / f64::from((self.tp + self.fp).max(1));
        let r = f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn evaluate() -> BTreeMap<String, Counts> {
    let scanner = Scanner::new();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for line in CORPUS.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).expect("corpus lines are JSON");
        let text = rec["text"].as_str().expect("text is a string");
        let gold: Vec<(String, u64, u64)> = rec["entities"]
            .as_array()
            .expect("entities is an array")
            .iter()
            .map(|e| {
                let t = e["type"].as_str().expect("type").to_string();
                (
                    t,
                    e["start"].as_u64().expect("start"),
                    e["end"].as_u64().expect("end"),
                )
            })
            .collect();
        let mut matched = vec![false; gold.len()];
        for f in scanner.scan(text) {
            let t = f.entity.as_str().to_string();
            let (s, e) = (f.start as u64, f.end as u64);
            let hit = gold
                .iter()
                .enumerate()
                .position(|(i, g)| !matched[i] && g.0 == t && s < g.2 && g.1 < e);
            let c = counts.entry(t).or_default();
            match hit {
                Some(i) => {
                    matched[i] = true;
                    c.tp += 1;
                }
                None => c.fp += 1,
            }
        }
        for (i, g) in gold.iter().enumerate() {
            if !matched[i] {
                counts.entry(g.0.clone()).or_default().fn_ += 1;
            }
        }
    }
    counts
}

#[test]
fn f1_on_the_labelled_corpus_is_at_least_0_9_per_type_and_0_8_for_names() {
    let counts = evaluate();
    let mut failures = Vec::new();
    for t in EntityType::ALL {
        let c = counts.get(t.as_str()).copied().unwrap_or_default();
        let f1 = c.f1();
        eprintln!(
            "{:<18} tp {:>4} fp {:>4} fn {:>4}  F1 {:.3}",
            t.as_str(),
            c.tp,
            c.fp,
            c.fn_,
            f1
        );
        let floor = if t == EntityType::Person { 0.8 } else { 0.9 };
        if f1 < floor {
            failures.push(format!("{t}: F1 {f1:.3} < {floor}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
