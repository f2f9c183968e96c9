//! The two sides of the issue 7 decision benchmark, fed the same inputs: Custos's
//! [`custos_consent::decide`] and the same decision in Rego (`decision.rego`) evaluated with
//! regorus, both through its interpreter and through its bytecode VM (RVM).
//!
//! Both sides answer with every reason; [`Outcome`] puts the two answers in one comparable
//! shape, and the tests below prove they agree before any figure is worth printing.

use std::sync::Arc;

use custos_consent::{ConsentState, Decision, DecisionInput, decide};
use custos_policy::Policy;
use custos_policy::model::Choice;
use jiff::Timestamp;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};
use serde_json::{Map, Value as Json, json};

/// The Rego policy, as it sits next to this crate.
pub const REGO: &str = include_str!("../decision.rego");

/// The rule the Rego side evaluates.
pub const ENTRY: &str = "data.custos.decision.result";

/// JBSync's policy, the one the benchmark decides under.
pub const JBSYNC: &str = include_str!("../../../examples/policies/jbsync.toml");

/// Loads a policy file's text, panicking with the diagnostics if it does not load.
pub fn load(name: &str, text: &str) -> Policy {
    match custos_policy::load_source(custos_policy::SourceFile::new(name, text)) {
        Ok(l) => l.policy,
        Err(e) => panic!("{name} does not load: {e:?}"),
    }
}

/// One decision to make, owning what [`DecisionInput`] borrows.
#[derive(Debug, Clone)]
pub struct Case {
    /// Purpose id.
    pub purpose: String,
    /// Category id.
    pub category: String,
    /// Consent state for the purpose.
    pub consent: ConsentState,
    /// Art. 18 restriction.
    pub restricted: bool,
    /// Art. 21 objection.
    pub objected: bool,
    /// On the suppression list.
    pub suppressed: bool,
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// Now.
    pub now: Timestamp,
    /// Retention expiry.
    pub expires: Option<Timestamp>,
    /// Action about to be taken.
    pub action: Option<String>,
    /// Approval token presented.
    pub approved: bool,
}

impl Case {
    /// A case with nothing against it: no consent, no flags, no expiry, no action.
    pub fn new(purpose: &str, category: &str) -> Case {
        Case {
            purpose: purpose.into(),
            category: category.into(),
            consent: ConsentState::Never,
            restricted: false,
            objected: false,
            suppressed: false,
            gpc: false,
            now: Timestamp::from_second(1_780_272_000).expect("2026-06-01 is a valid time"),
            expires: None,
            action: None,
            approved: false,
        }
    }

    /// The input Custos decides on.
    pub fn input(&self) -> DecisionInput<'_> {
        DecisionInput {
            purpose: &self.purpose,
            category: &self.category,
            now: self.now,
            consent: &self.consent,
            restricted: self.restricted,
            objected: self.objected,
            suppressed: self.suppressed,
            gpc: self.gpc,
            expires: self.expires,
            action: self.action.as_deref(),
            approved: self.approved,
        }
    }

    /// The same input as the Rego side's `input` document.
    pub fn json(&self) -> Json {
        let consent = match &self.consent {
            ConsentState::Never => json!({"state": "never"}),
            ConsentState::Granted { notice_version, .. } => {
                json!({"state": "granted", "notice_version": notice_version})
            }
            ConsentState::Withdrawn { .. } => json!({"state": "withdrawn"}),
        };
        let mut m = Map::new();
        m.insert("purpose".into(), json!(self.purpose));
        m.insert("category".into(), json!(self.category));
        m.insert("consent".into(), consent);
        m.insert("restricted".into(), json!(self.restricted));
        m.insert("objected".into(), json!(self.objected));
        m.insert("suppressed".into(), json!(self.suppressed));
        m.insert("gpc".into(), json!(self.gpc));
        m.insert("now_s".into(), json!(self.now.as_second()));
        if let Some(e) = self.expires {
            m.insert("expires_s".into(), json!(e.as_second()));
            m.insert("expires".into(), json!(e.to_string()));
        }
        if let Some(a) = &self.action {
            m.insert("action".into(), json!(a));
        }
        m.insert("approved".into(), json!(self.approved));
        Json::Object(m)
    }

    /// [`Case::json`] as a regorus value.
    pub fn rego_input(&self) -> Value {
        Value::from(self.json())
    }
}

/// The resolved policy as the Rego side's `data` document: purposes and categories keyed by
/// id, with only the fields the decision reads, unset fields left out.
pub fn rego_data(policy: &Policy) -> Json {
    let mut purposes = Map::new();
    for p in &policy.purposes {
        let mut o = Map::new();
        if let Some(b) = p.basis {
            o.insert(
                "basis".into(),
                serde_json::to_value(b).expect("a basis serialises"),
            );
        }
        if let Some(a) = p.basis_article {
            o.insert("basis_article".into(), json!(a));
        }
        if let Some(s) = p.special_condition {
            o.insert(
                "special_condition".into(),
                serde_json::to_value(s).expect("a condition serialises"),
            );
        }
        let choice = match p.choice {
            Choice::None => "none",
            Choice::OptIn => "opt_in",
            Choice::OptOut => "opt_out",
        };
        o.insert("choice".into(), json!(choice));
        o.insert("direct_marketing".into(), json!(p.direct_marketing));
        if let Some(g) = &p.approval {
            o.insert("approval".into(), json!({"action": g.action}));
        }
        o.insert("categories".into(), json!(p.categories));
        purposes.insert(p.id.clone(), Json::Object(o));
    }
    let mut categories = Map::new();
    for c in &policy.categories {
        let mut o = Map::new();
        if let Some(parent) = &c.parent {
            o.insert("parent".into(), json!(parent));
        }
        categories.insert(c.id.clone(), Json::Object(o));
    }
    json!({"policy": {"purposes": purposes, "categories": categories}})
}

/// The Rego decision through regorus's interpreter, the documented way to evaluate a rule.
#[derive(Clone)]
pub struct Interpreter {
    engine: Engine,
}

impl Interpreter {
    /// Loads `decision.rego` and the policy's data.
    pub fn new(policy: &Policy) -> Interpreter {
        let mut engine = Engine::new();
        engine
            .add_policy("decision.rego".into(), REGO.into())
            .expect("decision.rego parses");
        engine
            .add_data(Value::from(rego_data(policy)))
            .expect("the data document is an object");
        Interpreter { engine }
    }

    /// Evaluates the decision for `input`.
    pub fn decide(&mut self, input: Value) -> Value {
        self.engine.set_input(input);
        self.engine
            .eval_rule(ENTRY.into())
            .expect("the decision evaluates")
    }
}

/// The Rego decision compiled to regorus's bytecode VM (RVM), its fastest way to evaluate.
pub struct Vm {
    vm: RegoVM,
}

impl Vm {
    /// Compiles `decision.rego` to a program.
    pub fn program(policy: &Policy) -> Arc<Program> {
        let mut engine = Interpreter::new(policy).engine;
        let compiled = engine
            .compile_with_entrypoint(&ENTRY.into())
            .expect("decision.rego compiles");
        Compiler::compile_from_policy(&compiled, &[ENTRY]).expect("decision.rego compiles to RVM")
    }

    /// A VM running `program` over the policy's data.
    pub fn new(policy: &Policy, program: Arc<Program>) -> Vm {
        let mut vm = RegoVM::new();
        vm.load_program(program);
        vm.set_data(Value::from(rego_data(policy)))
            .expect("the data document is an object");
        Vm { vm }
    }

    /// Evaluates the decision for `input`.
    pub fn decide(&mut self, input: Value) -> Value {
        self.vm.set_input(input);
        self.vm.execute().expect("the decision evaluates")
    }
}

/// Either side's answer in one shape: allowed, and every reason as
/// `(rule, effect, article, detail)`, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Allow or deny.
    pub allowed: bool,
    /// Every reason, sorted.
    pub reasons: Vec<(String, String, String, String)>,
}

impl Outcome {
    /// The denial rule ids, sorted.
    pub fn denied_by(&self) -> Vec<&str> {
        self.reasons
            .iter()
            .filter(|r| r.1 == "deny")
            .map(|r| r.0.as_str())
            .collect()
    }
}

impl From<&Decision> for Outcome {
    fn from(d: &Decision) -> Outcome {
        let mut reasons: Vec<_> = d
            .reasons
            .iter()
            .map(|r| {
                let effect = match r.effect {
                    custos_consent::decision::Effect::Allow => "allow",
                    custos_consent::decision::Effect::Deny => "deny",
                };
                (
                    r.rule.to_owned(),
                    effect.to_owned(),
                    r.article.to_owned(),
                    r.detail.to_string(),
                )
            })
            .collect();
        reasons.sort();
        Outcome {
            allowed: d.allowed,
            reasons,
        }
    }
}

impl From<&Value> for Outcome {
    fn from(v: &Value) -> Outcome {
        let j: Json = serde_json::from_str(&v.to_json_str().expect("a result serialises"))
            .expect("regorus writes JSON");
        let s = |r: &Json, k: &str| {
            r[k].as_str()
                .unwrap_or_else(|| panic!("reason without `{k}`: {r}"))
                .to_owned()
        };
        let mut reasons: Vec<_> = j["reasons"]
            .as_array()
            .unwrap_or_else(|| panic!("result without reasons: {j}"))
            .iter()
            .map(|r| {
                (
                    s(r, "rule"),
                    s(r, "effect"),
                    s(r, "article"),
                    s(r, "detail"),
                )
            })
            .collect();
        reasons.sort();
        Outcome {
            allowed: j["allowed"]
                .as_bool()
                .unwrap_or_else(|| panic!("result without allowed: {j}")),
            reasons,
        }
    }
}

/// Custos's answer in the comparable shape.
pub fn custos(policy: &Policy, case: &Case) -> Outcome {
    Outcome::from(&decide(policy, &case.input()))
}

/// A small deterministic generator (xorshift64*), so every run decides the same mix.
pub struct Mix(u64);

impl Mix {
    /// Seeded.
    pub fn new(seed: u64) -> Mix {
        Mix(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }

    /// `n` cases under `policy`: mostly known purposes asking for one of their own
    /// categories (or a child of one), with every denial reason turning up now and then.
    pub fn cases(&mut self, policy: &Policy, n: usize) -> Vec<Case> {
        let all: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
        (0..n)
            .map(|_| {
                let (purpose, category) = if self.one_in(20) {
                    ("ads".to_owned(), (*self.pick(&all)).to_owned())
                } else {
                    let p = self.pick(&policy.purposes);
                    let c = match self.next() % 10 {
                        0 => "telemetry",
                        1 | 2 => self.pick(&all),
                        _ => self.pick(&p.categories).as_str(),
                    };
                    (p.id.clone(), c.to_owned())
                };
                let mut c = Case::new(&purpose, &category);
                c.consent = match self.next() % 3 {
                    0 => ConsentState::Never,
                    1 => ConsentState::Granted {
                        at: c.now - jiff::SignedDuration::from_hours(24 * 30),
                        notice_version: "2.0".into(),
                    },
                    _ => ConsentState::Withdrawn {
                        at: c.now - jiff::SignedDuration::from_hours(24),
                    },
                };
                c.restricted = self.one_in(20);
                c.objected = self.one_in(10);
                c.suppressed = self.one_in(10);
                c.gpc = self.one_in(10);
                c.expires = match self.next() % 10 {
                    0 => Some(c.now - jiff::SignedDuration::from_hours(1)),
                    1..=4 => Some(c.now + jiff::SignedDuration::from_hours(24 * 365)),
                    _ => None,
                };
                c.action = match self.next() % 4 {
                    0 | 1 => None,
                    2 => Some("draft.send".into()),
                    _ => Some("draft.edit".into()),
                };
                c.approved = self.one_in(2);
                c
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> ConsentState {
        ConsentState::Granted {
            at: Timestamp::from_second(1_767_225_600).unwrap(),
            notice_version: "2.0".into(),
        }
    }

    fn withdrawn() -> ConsentState {
        ConsentState::Withdrawn {
            at: Timestamp::from_second(1_767_225_600).unwrap(),
        }
    }

    /// One case per behaviour, with the denials Custos gives for it under JBSync's policy.
    fn named() -> Vec<(&'static str, Case, Vec<&'static str>)> {
        let c = Case::new;
        let with = |mut c: Case, f: &dyn Fn(&mut Case)| {
            f(&mut c);
            c
        };
        vec![
            (
                "contract purpose, own category",
                c("service", "account"),
                vec![],
            ),
            (
                "child of a category by name",
                c("service", "oauth_token.mail"),
                vec![],
            ),
            ("legal obligation", c("billing", "billing"), vec![]),
            ("legitimate interest", c("security", "usage_log"), vec![]),
            (
                "unknown purpose",
                c("ads", "account"),
                vec!["purpose.undefined"],
            ),
            (
                "unknown category",
                c("service", "telemetry"),
                vec!["category.undefined"],
            ),
            (
                "category the purpose does not use",
                c("billing", "mail.body"),
                vec!["category.not_for_purpose"],
            ),
            (
                "purpose without a basis",
                c("cookies", "cookie"),
                vec!["basis.missing"],
            ),
            (
                "consent given",
                with(c("style_learning", "style_profile"), &|c| {
                    c.consent = granted()
                }),
                vec![],
            ),
            (
                "consent withdrawn",
                with(c("style_learning", "style_profile"), &|c| {
                    c.consent = withdrawn()
                }),
                vec!["consent.withdrawn"],
            ),
            (
                "consent never given",
                c("style_learning", "style_profile"),
                vec!["consent.absent"],
            ),
            (
                "opt-in on a contract basis needs consent",
                c("auto_draft", "draft"),
                vec!["consent.absent"],
            ),
            (
                "restricted",
                with(c("service", "account"), &|c| c.restricted = true),
                vec!["restriction"],
            ),
            (
                "objection to a legitimate interest",
                with(c("security", "usage_log"), &|c| c.objected = true),
                vec!["objection"],
            ),
            (
                "objection to a contract purpose does not count",
                with(c("service", "account"), &|c| c.objected = true),
                vec![],
            ),
            (
                "objection to direct marketing",
                with(c("customer_email", "account"), &|c| c.objected = true),
                vec!["objection.direct_marketing"],
            ),
            (
                "suppressed",
                with(c("customer_email", "account"), &|c| c.suppressed = true),
                vec!["suppression"],
            ),
            (
                "suppression outside marketing does not count",
                with(c("service", "account"), &|c| c.suppressed = true),
                vec![],
            ),
            (
                "gpc",
                with(c("cold_outreach", "prospect"), &|c| c.gpc = true),
                vec!["gpc"],
            ),
            (
                "expired",
                with(c("service", "account"), &|c| {
                    c.expires = Some(c.now - jiff::SignedDuration::from_secs(1))
                }),
                vec!["retention.expired"],
            ),
            (
                "expires this very second",
                with(c("service", "account"), &|c| c.expires = Some(c.now)),
                vec!["retention.expired"],
            ),
            (
                "not yet expired",
                with(c("service", "account"), &|c| {
                    c.expires = Some(c.now + jiff::SignedDuration::from_secs(1))
                }),
                vec![],
            ),
            (
                "approval needed",
                with(c("auto_draft", "draft"), &|c| {
                    c.consent = granted();
                    c.action = Some("draft.send".into());
                }),
                vec!["approval.required"],
            ),
            (
                "approval given",
                with(c("auto_draft", "draft"), &|c| {
                    c.consent = granted();
                    c.action = Some("draft.send".into());
                    c.approved = true;
                }),
                vec![],
            ),
            (
                "another action needs no approval",
                with(c("auto_draft", "draft"), &|c| {
                    c.consent = granted();
                    c.action = Some("draft.edit".into());
                }),
                vec![],
            ),
            (
                "everything at once on a marketing purpose",
                with(c("customer_email", "billing"), &|c| {
                    c.restricted = true;
                    c.objected = true;
                    c.suppressed = true;
                    c.gpc = true;
                    c.expires = Some(c.now);
                }),
                vec![
                    "category.not_for_purpose",
                    "gpc",
                    "objection.direct_marketing",
                    "restriction",
                    "retention.expired",
                    "suppression",
                ],
            ),
        ]
    }

    const EVERY_RULE: &[&str] = &[
        "purpose.undefined",
        "category.undefined",
        "category.not_for_purpose",
        "basis.missing",
        "consent.withdrawn",
        "consent.absent",
        "restriction",
        "objection.direct_marketing",
        "objection",
        "suppression",
        "gpc",
        "retention.expired",
        "approval.required",
    ];

    fn assert_same(policy: &Policy, cases: &[Case], what: impl Fn(usize) -> String) {
        let mut interp = Interpreter::new(policy);
        let mut vm = Vm::new(policy, Vm::program(policy));
        for (i, case) in cases.iter().enumerate() {
            let ours = custos(policy, case);
            let input = case.rego_input();
            assert_eq!(
                ours,
                Outcome::from(&interp.decide(input.clone())),
                "interpreter differs on {}: {case:?}",
                what(i)
            );
            assert_eq!(
                ours,
                Outcome::from(&vm.decide(input)),
                "RVM differs on {}: {case:?}",
                what(i)
            );
        }
    }

    #[test]
    fn every_named_case_denies_as_expected_in_custos() {
        let p = load("jbsync.toml", JBSYNC);
        for (name, case, denied) in named() {
            assert_eq!(custos(&p, &case).denied_by(), denied, "{name}");
        }
    }

    #[test]
    fn the_named_cases_cover_every_denial_rule() {
        let p = load("jbsync.toml", JBSYNC);
        let mut seen: Vec<_> = named()
            .iter()
            .flat_map(|(_, c, _)| {
                custos(&p, c)
                    .denied_by()
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        seen.sort();
        seen.dedup();
        let mut every: Vec<_> = EVERY_RULE.iter().map(|s| s.to_string()).collect();
        every.sort();
        assert_eq!(seen, every);
    }

    #[test]
    fn rego_gives_the_same_answer_and_reasons_on_every_named_case() {
        let p = load("jbsync.toml", JBSYNC);
        let named = named();
        let cases: Vec<Case> = named.iter().map(|(_, c, _)| c.clone()).collect();
        assert_same(&p, &cases, |i| named[i].0.to_owned());
    }

    #[test]
    fn rego_gives_the_same_answer_and_reasons_on_the_benchmark_mix() {
        let p = load("jbsync.toml", JBSYNC);
        let cases = Mix::new(7).cases(&p, 5_000);
        assert_same(&p, &cases, |i| format!("mixed case {i}"));
    }
}
