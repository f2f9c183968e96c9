//! Change management: what changed between two versions of a policy, whether each change is
//! material (people must be told in advance, Art. 13(3), 14(4); processors must announce new
//! sub-processors, Art. 28(2)) or editorial, which notice period the policy's own notice rules
//! then require, and which consent purposes need consent again because what people agreed to
//! changed (Art. 4(11), 7: consent is specific and informed).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{Acceptance, Basis, RecipientKind, SpecialCondition};
use crate::period::Period;
use crate::resolved::{Category, Policy, Purpose, Recipient};

/// Whether a change must be announced in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Changes what is processed, why, by whom, where or for how long.
    Material,
    /// Wording, contact details, reductions: publish, no advance notice needed.
    Editorial,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Material or editorial.
    pub kind: Kind,
    /// What part of the policy: `purpose`, `category`, `recipient`, `controller`, `rights`, ….
    pub area: &'static str,
    /// The id of the item that changed (empty for singletons such as `rights`).
    pub id: String,
    /// What changed, in one sentence.
    pub what: String,
    /// Whether this change adds or replaces a sub-processor (the sub-processor notice applies).
    pub new_subprocessor: bool,
}

/// The notice a set of changes requires under the policy's notice rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRequired {
    /// The longest notice period triggered.
    pub period: Option<Period>,
    /// Which rules triggered it: `material_change`, `new_subprocessor`.
    pub rules: Vec<&'static str>,
    /// Whether customers must accept the new version at their next login.
    pub acceptance_at_next_login: bool,
}

/// The result of comparing two policy versions.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version label of the old policy.
    pub old_version: Option<String>,
    /// Version label of the new policy.
    pub new_version: Option<String>,
    /// Whether any change is material.
    pub material: bool,
    /// Every change, material first.
    pub changes: Vec<Change>,
    /// The advance notice required (none when every change is editorial).
    pub notice: Option<NoticeRequired>,
    /// Consent purposes for which consent must be asked (again), with the reason.
    pub reconsent: BTreeMap<String, Vec<String>>,
    /// Of those that already rested on consent, the ones whose new version does not list the old
    /// notice version in `stale_consent`, so consent given under it would still count: purpose →
    /// the version to add.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stale_consent_to_add: BTreeMap<String, String>,
}

impl Report {
    /// The report for a terminal.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "?".into());
        let material = self
            .changes
            .iter()
            .filter(|c| c.kind == Kind::Material)
            .count();
        let _ = writeln!(
            out,
            "version {} → {}: {} change(s), {material} material, {} editorial",
            v(&self.old_version),
            v(&self.new_version),
            self.changes.len(),
            self.changes.len() - material
        );
        for c in &self.changes {
            let kind = match c.kind {
                Kind::Material => "material ",
                Kind::Editorial => "editorial",
            };
            let _ = writeln!(out, "  {kind}  {}", c.what);
        }
        match &self.notice {
            Some(n) => {
                match &n.period {
                    Some(p) => {
                        let _ = writeln!(
                            out,
                            "notice: announce at least {p} before the change takes effect ({})",
                            n.rules.join(", ")
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "notice: material changes, but the policy sets no notice period ([notice] material_change)"
                        );
                    }
                }
                if n.acceptance_at_next_login {
                    let _ = writeln!(
                        out,
                        "acceptance: customers must accept the new version at their next login"
                    );
                }
            }
            None if self.changes.is_empty() => {
                let _ = writeln!(out, "no changes");
            }
            None => {
                let _ = writeln!(out, "notice: none required (editorial changes only)");
            }
        }
        if self.reconsent.is_empty() {
            let _ = writeln!(out, "consent: no purpose needs consent again");
        } else {
            for (p, why) in &self.reconsent {
                let _ = writeln!(out, "consent: ask again for `{p}`: {}", why.join("; "));
                if let Some(v) = self.stale_consent_to_add.get(p) {
                    let _ = writeln!(
                        out,
                        "  add `stale_consent = [\"{v}\"]` to purpose `{p}` so consent given under {v} no longer counts"
                    );
                }
            }
        }
        out
    }
}

fn consent_based(p: &Purpose) -> bool {
    p.bases.contains(&Basis::Consent)
        || p.special_condition == Some(SpecialCondition::ExplicitConsent)
}

/// The longest retention a category can have: its period, tiers, override maximum, statute.
fn longest_retention(c: &Category) -> Option<Period> {
    let r = c.retention.as_ref()?;
    let candidates = r
        .period
        .iter()
        .chain(r.tiers.iter().map(|t| &t.period))
        .chain(r.tenant_override.as_ref().and_then(|b| b.max.as_ref()))
        .chain(r.statutory.as_ref().and_then(|s| s.period.as_ref()));
    candidates.max().copied()
}

fn added<'a>(old: &'a [String], new: &'a [String]) -> Vec<&'a str> {
    new.iter()
        .filter(|x| !old.contains(x))
        .map(String::as_str)
        .collect()
}

fn removed<'a>(old: &'a [String], new: &'a [String]) -> Vec<&'a str> {
    old.iter()
        .filter(|x| !new.contains(x))
        .map(String::as_str)
        .collect()
}

/// Fields of two serialisable values that differ, by top-level name, minus `skip`.
fn differing_fields<T: Serialize>(a: &T, b: &T, skip: &[&str]) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

struct Diff {
    changes: Vec<Change>,
    reconsent: BTreeMap<String, Vec<String>>,
}

impl Diff {
    fn push(&mut self, kind: Kind, area: &'static str, id: &str, what: String) {
        self.changes.push(Change {
            kind,
            area,
            id: id.to_owned(),
            what,
            new_subprocessor: false,
        });
    }

    fn reconsent(&mut self, purpose: &str, why: String) {
        self.reconsent
            .entry(purpose.to_owned())
            .or_default()
            .push(why);
    }
}

/// Compares two versions of a policy.
pub fn diff(old: &Policy, new: &Policy) -> Report {
    let mut d = Diff {
        changes: Vec::new(),
        reconsent: BTreeMap::new(),
    };
    purposes(old, new, &mut d);
    categories(old, new, &mut d);
    recipients(old, new, &mut d);
    singletons(old, new, &mut d);

    d.changes.sort_by_key(|c| c.kind);
    let material = d.changes.iter().any(|c| c.kind == Kind::Material);
    let notice = material.then(|| {
        let mut rules = Vec::new();
        let mut period: Option<Period> = None;
        if let Some(p) = &new.notice.material_change {
            rules.push("material_change");
            period = Some(*p);
        }
        if d.changes.iter().any(|c| c.new_subprocessor)
            && let Some(p) = &new.notice.new_subprocessor
        {
            rules.push("new_subprocessor");
            period = Some(period.map_or(*p, |q| q.max(*p)));
        }
        NoticeRequired {
            period,
            rules,
            acceptance_at_next_login: new.notice.acceptance == Acceptance::NextLogin,
        }
    });
    // Consent already given to a purpose stays on record; it stops counting only where the
    // new policy says so (Art. 7(1): the controller must show consent covers what is done).
    let stale_consent_to_add = match &old.meta.version {
        Some(v) => d
            .reconsent
            .keys()
            .filter(|p| old.purpose(p).is_some_and(consent_based))
            .filter(|p| {
                new.purpose(p)
                    .is_some_and(|np| !np.stale_consent.contains(v))
            })
            .map(|p| (p.clone(), v.clone()))
            .collect(),
        None => BTreeMap::new(),
    };
    Report {
        old_version: old.meta.version.clone(),
        new_version: new.meta.version.clone(),
        material,
        changes: d.changes,
        notice,
        reconsent: d.reconsent,
        stale_consent_to_add,
    }
}

fn purposes(old: &Policy, new: &Policy, d: &mut Diff) {
    for np in &new.purposes {
        let Some(op) = old.purpose(&np.id) else {
            let basis = np.basis_article.unwrap_or("no basis");
            d.push(
                Kind::Material,
                "purpose",
                &np.id,
                format!("purpose `{}` added (Art. {basis})", np.id),
            );
            if consent_based(np) {
                d.reconsent(&np.id, "new purpose based on consent".into());
            }
            continue;
        };
        let id = &np.id;
        if op.bases != np.bases || op.special_condition != np.special_condition {
            let show = |p: &Purpose| {
                if p.bases.is_empty() {
                    "none".to_owned()
                } else {
                    p.bases
                        .iter()
                        .map(|b| crate::law::basis_article(*b))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            d.push(
                Kind::Material,
                "purpose",
                id,
                format!(
                    "purpose `{id}`: legal basis changed from Art. {} to Art. {}",
                    show(op),
                    show(np)
                ),
            );
            if consent_based(np) {
                d.reconsent(id, "legal basis changed to consent".into());
            }
        }
        let cats = added(&op.categories, &np.categories);
        if !cats.is_empty() {
            d.push(
                Kind::Material,
                "purpose",
                id,
                format!("purpose `{id}` now also uses: {}", cats.join(", ")),
            );
            if consent_based(np) && consent_based(op) {
                d.reconsent(id, format!("uses more data ({})", cats.join(", ")));
            }
        }
        let recs = added(&op.recipients, &np.recipients);
        if !recs.is_empty() {
            d.push(
                Kind::Material,
                "purpose",
                id,
                format!(
                    "purpose `{id}` now also shares data with: {}",
                    recs.join(", ")
                ),
            );
            if consent_based(np) && consent_based(op) {
                d.reconsent(id, format!("new recipients ({})", recs.join(", ")));
            }
        }
        let newly_automated = |p: &Purpose| {
            p.automated_decision
                .as_ref()
                .is_some_and(|a| a.kind != crate::model::AutomatedKind::None)
        };
        if newly_automated(np) && !newly_automated(op) {
            d.push(
                Kind::Material,
                "purpose",
                id,
                format!("purpose `{id}` now involves automated decision-making"),
            );
            if consent_based(np) {
                d.reconsent(id, "now involves automated decision-making".into());
            }
        }
        if op.approval.is_some() && np.approval.is_none() {
            d.push(
                Kind::Material,
                "purpose",
                id,
                format!("purpose `{id}` no longer requires human approval"),
            );
        }
        let fewer = removed(&op.categories, &np.categories);
        if !fewer.is_empty() {
            d.push(
                Kind::Editorial,
                "purpose",
                id,
                format!("purpose `{id}` no longer uses: {}", fewer.join(", ")),
            );
        }
        let skip = [
            "basis",
            "basis_article",
            "special_condition",
            "special_condition_article",
            "categories",
            "recipients",
            "automated_decision",
            "subjects",
        ];
        let other = differing_fields(op, np, &skip);
        if !other.is_empty() {
            d.push(
                Kind::Editorial,
                "purpose",
                id,
                format!("purpose `{id}`: {} changed", other.join(", ")),
            );
        }
    }
    for op in &old.purposes {
        if new.purpose(&op.id).is_none() {
            d.push(
                Kind::Editorial,
                "purpose",
                &op.id,
                format!("purpose `{}` removed", op.id),
            );
        }
    }
}

fn categories(old: &Policy, new: &Policy, d: &mut Diff) {
    for nc in &new.categories {
        let id = &nc.id;
        let Some(oc) = old.category(id) else {
            d.push(
                Kind::Material,
                "category",
                id,
                format!("category `{id}` added"),
            );
            continue;
        };
        if nc.special.is_some() && oc.special.is_none() || nc.criminal && !oc.criminal {
            d.push(
                Kind::Material,
                "category",
                id,
                format!("category `{id}` is now special or criminal-offence data"),
            );
        }
        if nc.stored && !oc.stored {
            d.push(
                Kind::Material,
                "category",
                id,
                format!("category `{id}` is now stored (it was never stored before)"),
            );
        }
        match (longest_retention(oc), longest_retention(nc)) {
            (Some(a), Some(b)) if b > a => {
                d.push(
                    Kind::Material,
                    "retention",
                    id,
                    format!("category `{id}`: retention longer ({a} → {b})"),
                );
                for p in &nc.purposes {
                    if new.purpose(p).is_some_and(consent_based) {
                        d.reconsent(p, format!("`{id}` kept longer ({a} → {b})"));
                    }
                }
            }
            (Some(a), Some(b)) if b < a => d.push(
                Kind::Editorial,
                "retention",
                id,
                format!("category `{id}`: retention shorter ({a} → {b})"),
            ),
            (a, b) => {
                let (or, nr) = (oc.retention.as_ref(), nc.retention.as_ref());
                let clock_changed =
                    or.map(|r| (&r.from, &r.until)) != nr.map(|r| (&r.from, &r.until));
                if clock_changed {
                    d.push(
                        Kind::Material,
                        "retention",
                        id,
                        format!("category `{id}`: retention now counts from a different event"),
                    );
                } else if a != b || !differing_fields(&or, &nr, &[]).is_empty() {
                    d.push(
                        Kind::Editorial,
                        "retention",
                        id,
                        format!("category `{id}`: retention wording changed"),
                    );
                }
            }
        }
        if nc.source.kind != oc.source.kind {
            d.push(
                Kind::Material,
                "category",
                id,
                format!("category `{id}`: data now comes from another source"),
            );
        }
        let skip = [
            "retention",
            "special",
            "criminal",
            "stored",
            "source",
            "purposes",
            "recipients",
            "depth",
        ];
        let other = differing_fields(oc, nc, &skip);
        if !other.is_empty() {
            d.push(
                Kind::Editorial,
                "category",
                id,
                format!("category `{id}`: {} changed", other.join(", ")),
            );
        }
    }
    for oc in &old.categories {
        if new.category(&oc.id).is_none() {
            d.push(
                Kind::Editorial,
                "category",
                &oc.id,
                format!("category `{}` removed", oc.id),
            );
        }
    }
}

fn is_subprocessor(r: &Recipient) -> bool {
    matches!(
        r.kind,
        RecipientKind::Processor | RecipientKind::SubProcessor
    )
}

fn recipients(old: &Policy, new: &Policy, d: &mut Diff) {
    for nr in &new.recipients {
        let id = &nr.id;
        let Some(or) = old.recipient(id) else {
            let outside = if nr.third_countries.is_empty() {
                String::new()
            } else {
                format!(", outside the EEA: {}", nr.third_countries.join(", "))
            };
            d.changes.push(Change {
                kind: Kind::Material,
                area: "recipient",
                id: id.clone(),
                what: format!("recipient `{id}` added{outside}"),
                new_subprocessor: is_subprocessor(nr),
            });
            continue;
        };
        let places = added(&or.third_countries, &nr.third_countries);
        if !places.is_empty() {
            d.push(
                Kind::Material,
                "transfer",
                id,
                format!(
                    "recipient `{id}`: new transfer outside the EEA to {}",
                    places.join(", ")
                ),
            );
        }
        if or.transfer != nr.transfer {
            d.push(
                Kind::Material,
                "transfer",
                id,
                format!("recipient `{id}`: transfer mechanism changed"),
            );
        }
        if or.name != nr.name && is_subprocessor(nr) {
            d.changes.push(Change {
                kind: Kind::Material,
                area: "recipient",
                id: id.clone(),
                what: format!("recipient `{id}` replaced: {} → {}", or.name, nr.name),
                new_subprocessor: true,
            });
        }
        let cats = added(&or.categories, &nr.categories);
        if !cats.is_empty() {
            d.push(
                Kind::Material,
                "recipient",
                id,
                format!("recipient `{id}` now also receives: {}", cats.join(", ")),
            );
        }
        let skip = [
            "locations",
            "third_countries",
            "transfer",
            "name",
            "categories",
            "purposes",
        ];
        let other = differing_fields(or, nr, &skip);
        if !other.is_empty() {
            d.push(
                Kind::Editorial,
                "recipient",
                id,
                format!("recipient `{id}`: {} changed", other.join(", ")),
            );
        }
    }
    for or in &old.recipients {
        if new.recipient(&or.id).is_none() {
            d.push(
                Kind::Editorial,
                "recipient",
                &or.id,
                format!("recipient `{}` removed", or.id),
            );
        }
    }
}

fn singletons(old: &Policy, new: &Policy, d: &mut Diff) {
    if old.controller.name != new.controller.name {
        d.push(
            Kind::Material,
            "controller",
            "",
            "the controller's identity changed".into(),
        );
    }
    let ctrl = differing_fields(&old.controller, &new.controller, &["name"]);
    if !ctrl.is_empty() {
        d.push(
            Kind::Editorial,
            "controller",
            "",
            format!("controller: {} changed", ctrl.join(", ")),
        );
    }
    if new.rights.response > old.rights.response || new.rights.extension > old.rights.extension {
        d.push(
            Kind::Material,
            "rights",
            "",
            "requests may now take longer to answer".into(),
        );
    }
    let lost: Vec<&str> = old
        .rights
        .offered
        .iter()
        .filter(|r| !new.rights.offered.contains(r))
        .map(|r| r.key())
        .collect();
    if !lost.is_empty() {
        d.push(
            Kind::Material,
            "rights",
            "",
            format!("rights no longer listed: {}", lost.join(", ")),
        );
    }
    let rights = differing_fields(
        &old.rights,
        &new.rights,
        &["response", "extension", "offered"],
    );
    if !rights.is_empty() {
        d.push(
            Kind::Editorial,
            "rights",
            "",
            format!("rights: {} changed", rights.join(", ")),
        );
    }
    for om in &old.measures {
        if !new.measures.iter().any(|m| m.id == om.id) {
            d.push(
                Kind::Material,
                "measure",
                &om.id,
                format!("security measure `{}` removed", om.id),
            );
        }
    }
    for nm in &new.measures {
        match old.measures.iter().find(|m| m.id == nm.id) {
            None => d.push(
                Kind::Editorial,
                "measure",
                &nm.id,
                format!("security measure `{}` added", nm.id),
            ),
            Some(om) if !differing_fields(om, nm, &[]).is_empty() => d.push(
                Kind::Editorial,
                "measure",
                &nm.id,
                format!("security measure `{}` reworded", nm.id),
            ),
            Some(_) => {}
        }
    }
    if new.breach.authority_within > old.breach.authority_within
        && old.breach.authority_within.is_some()
    {
        d.push(
            Kind::Material,
            "breach",
            "",
            "breaches are notified later than before".into(),
        );
    }
    for (area, a, b) in [
        (
            "notice",
            serde_json::to_value(&old.notice).ok(),
            serde_json::to_value(&new.notice).ok(),
        ),
        (
            "commitments",
            serde_json::to_value(&old.commitments).ok(),
            serde_json::to_value(&new.commitments).ok(),
        ),
        (
            "policy",
            serde_json::to_value(&old.meta.scope).ok(),
            serde_json::to_value(&new.meta.scope).ok(),
        ),
    ] {
        if a != b {
            d.push(Kind::Editorial, area, "", format!("{area} changed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    const OLD: &str = r#"
[policy]
version = "1"
[controller]
name = "Acme"
[[category]]
id = "mail"
name = "Mail"
retention = { period = "7 days" }
[[category]]
id = "style"
name = "Style"
retention = { period = "90 days" }
[[purpose]]
id = "service"
name = "Service"
basis = "contract"
categories = ["mail"]
[[purpose]]
id = "learning"
name = "Style learning"
basis = "consent"
withdraw = "settings"
categories = ["style"]
[[recipient]]
id = "hosting"
name = "Hetzner"
locations = ["DE"]
[notice]
material_change = "30 days"
new_subprocessor = "30 days"
acceptance = "next_login"
"#;

    fn report(new: &str) -> Report {
        let o = crate::load_source(SourceFile::new("old.toml", OLD)).unwrap();
        let n = crate::load_source(SourceFile::new("new.toml", new)).unwrap();
        diff(&o.policy, &n.policy)
    }

    #[test]
    fn an_identical_policy_has_no_changes_and_needs_no_notice() {
        let r = report(OLD);
        assert!(r.changes.is_empty(), "{:?}", r.changes);
        assert!(r.notice.is_none() && r.reconsent.is_empty());
    }

    #[test]
    fn a_reworded_description_is_editorial() {
        let r = report(&OLD.replace("name = \"Service\"", "name = \"The service\""));
        assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
        assert_eq!(r.changes[0].kind, Kind::Editorial);
        assert!(!r.material && r.notice.is_none());
    }

    #[test]
    fn longer_retention_is_material_and_a_consent_purpose_needs_consent_again() {
        let r = report(&OLD.replace("period = \"90 days\"", "period = \"1 year\""));
        assert!(r.material);
        assert_eq!(
            r.changes[0].what,
            "category `style`: retention longer (90 days → 1 year)"
        );
        assert_eq!(
            r.notice.as_ref().unwrap().period,
            Some(Period::parse("30 days").unwrap())
        );
        assert!(r.notice.as_ref().unwrap().acceptance_at_next_login);
        assert_eq!(r.reconsent.keys().collect::<Vec<_>>(), ["learning"]);
    }

    #[test]
    fn shorter_retention_is_editorial() {
        let r = report(&OLD.replace("period = \"7 days\"", "period = \"3 days\""));
        assert!(!r.material, "{:?}", r.changes);
    }

    #[test]
    fn a_new_sub_processor_outside_the_eea_triggers_the_sub_processor_notice() {
        let new = OLD.replace(
            "new_subprocessor = \"30 days\"",
            "new_subprocessor = \"6 weeks\"",
        ) + "[[recipient]]\nid = \"openai\"\nname = \"OpenAI\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\n";
        let r = report(&new);
        let c = r.changes.iter().find(|c| c.id == "openai").unwrap();
        assert!(c.new_subprocessor && c.kind == Kind::Material);
        assert!(c.what.contains("outside the EEA: US"), "{}", c.what);
        let n = r.notice.unwrap();
        assert_eq!(n.period, Some(Period::parse("6 weeks").unwrap()));
        assert_eq!(n.rules, ["material_change", "new_subprocessor"]);
    }

    #[test]
    fn a_changed_legal_basis_and_a_new_purpose_are_material() {
        let new = OLD.replace(
            "basis = \"contract\"",
            "basis = \"legitimate_interest\"\nlegitimate_interest = \"x\"",
        ) + "[[purpose]]\nid = \"ads\"\nname = \"Ads\"\nbasis = \"consent\"\nwithdraw = \"x\"\ncategories = [\"mail\"]\n";
        let r = report(&new);
        let whats: Vec<_> = r
            .changes
            .iter()
            .filter(|c| c.kind == Kind::Material)
            .map(|c| c.what.as_str())
            .collect();
        assert!(
            whats.contains(
                &"purpose `service`: legal basis changed from Art. 6(1)(b) to Art. 6(1)(f)"
            ),
            "{whats:?}"
        );
        assert!(
            whats.contains(&"purpose `ads` added (Art. 6(1)(a))"),
            "{whats:?}"
        );
        assert!(r.reconsent.contains_key("ads"));
    }

    #[test]
    fn an_added_alternative_legal_basis_is_material() {
        let r = report(&OLD.replacen(
            "basis = \"contract\"",
            "basis = [\"contract\", \"legitimate_interest\"]\nlegitimate_interest = \"x\"\nbasis_note = \"y\"",
            1,
        ));
        assert!(
            r.changes.iter().any(|c| c.kind == Kind::Material
                && c.what
                    .ends_with("legal basis changed from Art. 6(1)(b) to Art. 6(1)(b), 6(1)(f)")),
            "{:?}",
            r.changes
        );
    }

    #[test]
    fn a_consent_purpose_using_more_data_needs_consent_again() {
        let r = report(&OLD.replace(
            "categories = [\"style\"]",
            "categories = [\"style\", \"mail\"]",
        ));
        assert!(r.material);
        assert_eq!(r.reconsent["learning"], ["uses more data (mail)"]);
        // Consent given under version 1 would still count until the new version says it
        // does not; the report says what to add, and stops saying it once it is there.
        assert_eq!(r.stale_consent_to_add["learning"], "1");
        assert!(
            r.to_human()
                .contains("add `stale_consent = [\"1\"]` to purpose `learning`"),
            "{}",
            r.to_human()
        );
        let r = report(&OLD.replace("version = \"1\"", "version = \"2\"").replace(
            "categories = [\"style\"]",
            "categories = [\"style\", \"mail\"]\nstale_consent = [\"1\"]",
        ));
        assert_eq!(r.reconsent["learning"], ["uses more data (mail)"]);
        assert!(r.stale_consent_to_add.is_empty(), "{r:?}");
    }

    #[test]
    fn a_new_consent_purpose_needs_consent_but_nothing_can_be_stale() {
        let r = report(&format!(
            "{OLD}[[purpose]]\nid = \"tips\"\nname = \"Tips\"\nbasis = \"consent\"\nwithdraw = \"settings\"\ncategories = [\"mail\"]\n"
        ));
        assert_eq!(r.reconsent["tips"], ["new purpose based on consent"]);
        assert!(r.stale_consent_to_add.is_empty(), "{r:?}");
    }
}
