//! The processing activities as W3C Data Privacy Vocabulary (DPV 2.3) JSON-LD.
//!
//! Mapping (shared/reference/gdpr-and-interop.md §2.5): the controller is a
//! `dpv:DataController`; each purpose is one `dpv:PersonalDataProcess` with its legal bases as
//! `eu-gdpr:A6-1-*` (every one, with the policy's note on which applies when as `skos:note`)
//! (and `A9-2-*`), its categories as the policy's own category IRIs linked by
//! `skos:broader` to their parent category and the `pd:` concepts the policy names, retention as
//! `dpv:StorageDuration`, and each transfer outside the EEA as a `dpv:CrossBorderTransfer` with
//! its `eu-gdpr:A45-3` / `A46-*` / `A49-*` basis (or a note that the policy states none).
//! Everything is derived per purpose: a process's recipients are those linked to its purpose,
//! not every recipient of one of its categories. Direct marketing adds `dpv:DirectMarketing` to
//! the purposes, profiling and Art. 22 decisions add `dpv:Profiling` /
//! `dpv:AutomatedDecisionMaking` to the processing, and the rights that apply to the purpose
//! (`crate::ropa::rights_for`) are its `dpv:hasRight` (`eu-gdpr:A15` …). Only concepts in the vendored list
//! `data/dpv-concepts.txt` are emitted or accepted in a policy.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::law::{self, Zone};
use crate::model::{
    AutomatedKind, Basis, MeasureKind, Mechanism, RecipientKind, Right, Role, SourceKind,
    SpecialCondition,
};
use crate::resolved::{Category, Policy, Purpose};
use crate::text::Text;

pub use crate::vocabulary::{is_known_concept, known_concepts};

/// The JSON-LD `@context`.
fn context(base: &str) -> Value {
    json!({
        "dpv": "https://w3id.org/dpv#",
        "pd": "https://w3id.org/dpv/pd#",
        "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
        "legal-nl": "https://w3id.org/dpv/legal/nl#",
        "loc": "https://w3id.org/dpv/loc#",
        "dct": "http://purl.org/dc/terms/",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "ex": base,
    })
}

fn id(iri: impl Into<String>) -> Value {
    json!({ "@id": iri.into() })
}

/// A text as JSON-LD language-tagged values.
fn text(t: &Text, langs: &[crate::Lang]) -> Value {
    match t {
        Text::Plain(s) if langs.len() == 1 => json!({ "@value": s, "@language": langs[0].code() }),
        Text::Plain(s) => json!(s),
        Text::Translated(m) => Value::Array(
            m.iter()
                .map(|(l, s)| json!({ "@value": s, "@language": l.code() }))
                .collect(),
        ),
    }
}

fn basis_iri(b: Basis) -> &'static str {
    match b {
        Basis::Consent => "eu-gdpr:A6-1-a",
        Basis::Contract => "eu-gdpr:A6-1-b",
        Basis::LegalObligation => "eu-gdpr:A6-1-c",
        Basis::VitalInterests => "eu-gdpr:A6-1-d",
        Basis::PublicTask => "eu-gdpr:A6-1-e",
        Basis::LegitimateInterest => "eu-gdpr:A6-1-f",
    }
}

fn special_iri(c: SpecialCondition) -> String {
    let point = law::special_condition_article(c)
        .trim_start_matches("9(2)(")
        .trim_end_matches(')')
        .to_owned();
    format!("eu-gdpr:A9-2-{point}")
}

fn mechanism_iri(m: Mechanism, derogation: Option<&str>) -> Option<String> {
    Some(match m {
        Mechanism::None => return None,
        Mechanism::Adequacy | Mechanism::Dpf | Mechanism::PrivacyShield => "eu-gdpr:A45-3".into(),
        Mechanism::Scc | Mechanism::Scc2010 => "eu-gdpr:A46-2-c".into(),
        Mechanism::Bcr => "eu-gdpr:A46-2-b".into(),
        Mechanism::CodeOfConduct => "eu-gdpr:A46-2-e".into(),
        Mechanism::Certification => "eu-gdpr:A46-2-f".into(),
        Mechanism::AdHocClauses => "eu-gdpr:A46-3-a".into(),
        Mechanism::Derogation => {
            let point = derogation
                .filter(|p| p.len() == 1 && ("a"..="g").contains(p))
                .unwrap_or("a");
            format!("eu-gdpr:A49-1-{point}")
        }
    })
}

/// The GDPR extension's concept for a right (`eu-gdpr:A15` is the right of access).
fn right_iri(r: Right) -> &'static str {
    match r {
        Right::Access => "eu-gdpr:A15",
        Right::Rectification => "eu-gdpr:A16",
        Right::Erasure => "eu-gdpr:A17",
        Right::Restriction => "eu-gdpr:A18",
        Right::Portability => "eu-gdpr:A20",
        Right::Objection => "eu-gdpr:A21",
        Right::WithdrawConsent => "eu-gdpr:A7-3",
        Right::HumanIntervention => "eu-gdpr:A22",
    }
}

fn measure_iri(k: MeasureKind) -> &'static str {
    match k {
        MeasureKind::EncryptionInTransit | MeasureKind::Hsts => "dpv:EncryptionInTransfer",
        MeasureKind::EncryptionAtRest => "dpv:EncryptionAtRest",
        MeasureKind::KeySeparation | MeasureKind::KeyManagement => "dpv:CryptographicKeyManagement",
        MeasureKind::AccessControl | MeasureKind::TenantIsolation => "dpv:AccessControlMethod",
        MeasureKind::Authentication => "dpv:AuthenticationProtocols",
        MeasureKind::MultiFactorAuthentication => "dpv:MultiFactorAuthentication",
        MeasureKind::PenetrationTesting => "dpv:PenetrationTestingMethods",
        MeasureKind::VulnerabilityScanning => "dpv:SecurityAssessment",
        MeasureKind::IncidentResponse => "dpv:IncidentManagementProcedures",
        MeasureKind::StaffTraining => "dpv:StaffTraining",
        MeasureKind::PrivacyByDesign | MeasureKind::DataMinimisation => "dpv:PrivacyByDesign",
        MeasureKind::Pseudonymisation => "dpv:Pseudonymisation",
        MeasureKind::Anonymisation => "dpv:Anonymisation",
        MeasureKind::Backup => "dpv:DataBackupProtocols",
        MeasureKind::VendorManagement => "dpv:DataProcessingAgreement",
        MeasureKind::AuditLogging
        | MeasureKind::Monitoring
        | MeasureKind::PatchManagement
        | MeasureKind::PhysicalSecurity
        | MeasureKind::SecureDevelopment
        | MeasureKind::DataLocalisation => "dpv:TechnicalMeasure",
        MeasureKind::Other => "dpv:TechnicalOrganisationalMeasure",
    }
}

fn source_iri(k: SourceKind) -> &'static str {
    match k {
        SourceKind::DataSubject | SourceKind::Observed => "dpv:DataSubjectDataSource",
        SourceKind::Public => "dpv:PublicDataSource",
        SourceKind::Customer | SourceKind::ThirdParty | SourceKind::Generated => {
            "dpv:ThirdPartyDataSource"
        }
    }
}

fn loc(code: &str) -> Value {
    id(format!("loc:{code}"))
}

/// A name safe to use as the last segment of an IRI.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Exports the policy as a DPV JSON-LD document.
pub fn export(p: &Policy) -> Value {
    let langs = &p.meta.languages;
    let base = p
        .meta
        .url
        .clone()
        .or_else(|| p.controller.website.clone())
        .map(|u| format!("{}#", u.trim_end_matches(['/', '#'])))
        .unwrap_or_else(|| {
            format!(
                "urn:custos:{}:",
                slug(p.meta.id.as_deref().unwrap_or("policy"))
            )
        });
    let mut graph = Vec::new();

    let ctrl = &p.controller;
    let mut controller = json!({ "@id": "ex:controller", "@type": "dpv:DataController" });
    if let Some(n) = &ctrl.name {
        controller["dpv:hasName"] = json!(n);
    }
    let contacts: Vec<&str> = ctrl.contact.iter().map(|c| c.address.as_str()).collect();
    if !contacts.is_empty() {
        controller["dpv:hasContact"] = json!(contacts);
    }
    if let Some(c) = &ctrl.country {
        controller["dpv:hasLocation"] = loc(c);
    }
    if let Some(a) =
        law::authority(ctrl.authority.as_ref().map_or("", |a| a.id.as_str())).and_then(|a| a.dpv)
    {
        controller["dpv:hasAuthority"] =
            id(a.replace("https://w3id.org/dpv/legal/nl#", "legal-nl:"));
    }
    if let Some(d) = ctrl.dpo.as_ref().filter(|d| d.appointed) {
        let contact: Vec<&String> = d.email.iter().chain(d.phone.iter()).collect();
        controller["dpv:hasDataProtectionOfficer"] = json!({ "@type": "dpv:DataProtectionOfficer", "dpv:hasName": d.name, "dpv:hasContact": contact });
    }
    graph.push(controller);

    for j in &p.joint_controllers {
        graph.push(json!({ "@id": format!("ex:joint/{}", slug(&j.id)), "@type": "dpv:DataController", "dpv:hasName": text(&j.name, langs) }));
    }
    for s in &p.subjects {
        graph.push(json!({ "@id": format!("ex:subject/{}", slug(&s.id)), "@type": "dpv:DataSubject", "skos:prefLabel": text(&s.name, langs) }));
    }
    for c in &p.categories {
        graph.push(category_node(c, langs));
    }
    for r in &p.recipients {
        let kind = match r.kind {
            RecipientKind::Processor => "dpv:DataProcessor",
            RecipientKind::SubProcessor => "dpv:DataSubProcessor",
            RecipientKind::Controller | RecipientKind::JointController => "dpv:DataController",
            RecipientKind::PublicAuthority | RecipientKind::ThirdParty => "dpv:ThirdParty",
        };
        let mut types = vec![json!(kind), json!("dpv:Recipient")];
        if !r.third_countries.is_empty() {
            types.push(json!("dpv:DataImporter"));
        }
        let mut node = json!({ "@id": format!("ex:recipient/{}", slug(&r.id)), "@type": types, "dpv:hasName": r.name });
        if !r.locations.is_empty() {
            node["dpv:hasLocation"] = Value::Array(r.locations.iter().map(|l| loc(l)).collect());
        }
        graph.push(node);
    }

    let measures: Vec<Value> = p
        .measures
        .iter()
        .map(|m| measure_iri(m.kind))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(id)
        .collect();
    for purpose in &p.purposes {
        graph.push(activity(p, purpose, &measures, langs));
    }
    json!({ "@context": context(&base), "@graph": graph })
}

fn category_node(c: &Category, langs: &[crate::Lang]) -> Value {
    let mut broader: Vec<Value> = c.dpv.iter().map(|d| id(d.clone())).collect();
    if let Some(parent) = &c.parent {
        broader.push(id(format!("ex:category/{}", slug(parent))));
    }
    if c.criminal && !c.dpv.iter().any(|d| d == "pd:Criminal") {
        broader.push(id("pd:Criminal"));
    }
    let types = if c.special.is_some() {
        json!(["dpv:PersonalData", "dpv:SpecialCategoryPersonalData"])
    } else {
        json!("dpv:PersonalData")
    };
    let mut node = json!({ "@id": format!("ex:category/{}", slug(&c.id)), "@type": types, "skos:prefLabel": text(&c.name, langs) });
    if !broader.is_empty() {
        node["skos:broader"] = Value::Array(broader);
    }
    node
}

fn activity(p: &Policy, purpose: &Purpose, measures: &[Value], langs: &[crate::Lang]) -> Value {
    let mut node = json!({
        "@id": format!("ex:activity/{}", slug(&purpose.id)),
        "@type": "dpv:PersonalDataProcess",
        "dct:title": text(&purpose.name, langs),
    });
    if let Some(d) = &purpose.description {
        node["dct:description"] = text(d, langs);
    }
    if purpose.role == Role::Processor {
        node["dpv:hasDataProcessor"] = id("ex:controller");
    } else {
        node["dpv:hasDataController"] = id("ex:controller");
    }
    if !purpose.joint_controllers.is_empty() {
        node["dpv:hasJointDataControllers"] = Value::Array(
            purpose
                .joint_controllers
                .iter()
                .map(|j| id(format!("ex:joint/{}", slug(j))))
                .collect(),
        );
    }
    let mut purposes: Vec<Value> = if purpose.dpv.is_empty() {
        vec![id("dpv:Purpose")]
    } else {
        purpose.dpv.iter().map(|d| id(d.clone())).collect()
    };
    if purpose.direct_marketing && !purpose.dpv.iter().any(|d| d == "dpv:DirectMarketing") {
        purposes.push(id("dpv:DirectMarketing"));
    }
    node["dpv:hasPurpose"] = Value::Array(purposes);
    // Every basis the purpose relies on; with alternatives, the policy's note on which applies
    // when goes with them.
    let mut bases: Vec<Value> = purpose.bases.iter().map(|b| id(basis_iri(*b))).collect();
    if let Some(c) = purpose.special_condition {
        bases.push(id(special_iri(c)));
    }
    if !bases.is_empty() {
        node["dpv:hasLegalBasis"] = Value::Array(bases);
    }
    if let Some(note) = &purpose.basis_note {
        node["skos:note"] = text(note, langs);
    }
    if !purpose.subjects.is_empty() {
        node["dpv:hasDataSubject"] = Value::Array(
            purpose
                .subjects
                .iter()
                .map(|s| id(format!("ex:subject/{}", slug(s))))
                .collect(),
        );
    }
    let cats: Vec<&Category> = purpose
        .categories
        .iter()
        .filter_map(|c| p.category(c))
        .collect();
    if !cats.is_empty() {
        node["dpv:hasPersonalData"] = Value::Array(
            cats.iter()
                .map(|c| id(format!("ex:category/{}", slug(&c.id))))
                .collect(),
        );
        let sources: BTreeSet<&str> = cats.iter().map(|c| source_iri(c.source.kind)).collect();
        node["dpv:hasDataSource"] = Value::Array(sources.into_iter().map(id).collect());
        let storage: Vec<Value> = cats
            .iter()
            .filter(|c| c.stored)
            .filter_map(|c| storage_condition(p, c))
            .collect();
        if !storage.is_empty() {
            node["dpv:hasStorageCondition"] = Value::Array(storage);
        }
    }
    let recipients: Vec<String> = purpose.recipients.clone();
    if !recipients.is_empty() {
        node["dpv:hasRecipient"] = Value::Array(
            recipients
                .iter()
                .map(|r| id(format!("ex:recipient/{}", slug(r))))
                .collect(),
        );
    }
    let mut processing = vec![id("dpv:Collect"), id("dpv:Store"), id("dpv:Use")];
    match purpose.automated_decision.as_ref().map(|a| a.kind) {
        Some(AutomatedKind::Profiling) => processing.push(id("dpv:Profiling")),
        Some(AutomatedKind::SolelyAutomated) => {
            processing.push(id("dpv:Profiling"));
            processing.push(id("dpv:AutomatedDecisionMaking"));
        }
        _ => {}
    }
    for r in recipients.iter().filter_map(|r| p.recipient(r)) {
        for country in &r.third_countries {
            let zone = law::zone(country);
            let basis: Vec<Value> = r
                .transfer
                .iter()
                .filter(|m| {
                    zone.is_some_and(|z| law::mechanism_covers(**m, z)) || zone == Some(Zone::Eea)
                })
                .filter_map(|m| mechanism_iri(*m, r.derogation.as_deref()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(id)
                .collect();
            let mut t = json!({
                "@type": "dpv:CrossBorderTransfer",
                "dpv:hasRecipient": id(format!("ex:recipient/{}", slug(&r.id))),
                "dpv:hasThirdCountry": loc(country),
            });
            if basis.is_empty() {
                t["skos:note"] = json!("transfer mechanism: none stated");
            } else {
                t["dpv:hasLegalBasis"] = Value::Array(basis);
            }
            if r.transfer.contains(&Mechanism::Dpf) && country == "US" {
                t["dct:description"] = json!(
                    "EU-US Data Privacy Framework, Commission Implementing Decision (EU) 2023/1795"
                );
            }
            processing.push(t);
        }
    }
    node["dpv:hasProcessing"] = Value::Array(processing);
    if purpose.role != Role::Processor {
        node["dpv:hasRight"] = Value::Array(
            crate::ropa::rights_for(purpose)
                .into_iter()
                .map(|r| id(right_iri(r)))
                .collect(),
        );
    }
    if !measures.is_empty() {
        node["dpv:hasTechnicalOrganisationalMeasure"] = Value::Array(measures.to_vec());
    }
    node
}

fn storage_condition(p: &Policy, c: &Category) -> Option<Value> {
    let r = c.retention.as_ref()?;
    let about = id(format!("ex:category/{}", slug(&c.id)));
    let mut duration = match (&r.period, r.from.as_str(), r.until.is_empty()) {
        (Some(per), "created", true) => json!({
            "@type": "dpv:TemporalDuration",
            "dpv:hasDuration": { "@value": per.iso(), "@type": "xsd:duration" },
        }),
        (Some(per), from, _) => json!({
            "@type": "dpv:UntilEventDuration",
            "dpv:hasDuration": { "@value": per.iso(), "@type": "xsd:duration" },
            "dct:description": event_description(p, from, &r.until),
        }),
        (None, from, false) => {
            json!({ "@type": "dpv:UntilEventDuration", "dct:description": event_description(p, from, &r.until) })
        }
        (None, _, true) => json!({ "@type": "dpv:IndeterminateDuration" }),
    };
    if let Some(cr) = &r.criteria {
        duration["skos:note"] = json!(cr.get_or_any(p.meta.languages[0]));
    }
    Some(
        json!({ "@type": "dpv:StorageDuration", "dct:subject": about, "dpv:hasDuration": duration }),
    )
}

fn event_description(p: &Policy, from: &str, until: &[String]) -> String {
    let name = |e: &str| {
        p.events
            .iter()
            .find(|x| x.id == e)
            .and_then(|x| x.name.as_ref())
            .map_or(e.to_owned(), |n| n.get_or_any(crate::Lang::En).to_owned())
    };
    let mut s = if from == "created" {
        String::new()
    } else {
        format!("counted from: {}", name(from))
    };
    if !until.is_empty() {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!(
            "until: {}",
            until
                .iter()
                .map(|u| name(u))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    const POLICY: &str = r#"
[policy]
id = "acme"
url = "https://acme.example/privacy"
[controller]
name = "Acme"
country = "NL"
authority = "nl-ap"
contact = [{ kind = "email", address = "privacy@acme.example" }]
[[category]]
id = "mail"
name = "Mail"
dpv = ["pd:EmailContent"]
retention = { period = "30 days", from = "draft.decided" }
[[category]]
id = "mail.metadata"
name = "Metadata"
dpv = ["pd:CommunicationsMetadata"]
retention = { period = "7 days" }
[[event]]
id = "draft.decided"
[[purpose]]
id = "assistant"
name = "Assistant"
basis = "contract"
dpv = ["dpv:ServiceProvision"]
categories = ["mail", "mail.metadata"]
recipients = ["openai"]
[[recipient]]
id = "openai"
name = "OpenAI"
locations = ["US"]
transfer = ["dpf", "scc"]
[[measure]]
id = "enc"
kind = "encryption_at_rest"
description = "AES-256"
"#;

    fn collect_iris(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "@id" || k == "@type" {
                        match x {
                            Value::String(s) => out.push(s.clone()),
                            Value::Array(a) => {
                                out.extend(a.iter().filter_map(|s| s.as_str().map(str::to_owned)))
                            }
                            _ => {}
                        }
                    } else {
                        collect_iris(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| collect_iris(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_vocabulary_iri_emitted_is_a_known_dpv_concept() {
        let l = crate::load_source(SourceFile::new("p.toml", POLICY)).unwrap();
        let doc = export(&l.policy);
        let mut iris = Vec::new();
        collect_iris(&doc, &mut iris);
        let vocab: Vec<_> = iris
            .iter()
            .filter(|i| {
                ["dpv:", "pd:", "eu-gdpr:", "loc:", "legal-nl:"]
                    .iter()
                    .any(|p| i.starts_with(p))
            })
            .collect();
        assert!(vocab.len() > 10, "{vocab:?}");
        for i in vocab {
            assert!(is_known_concept(i), "{i} is not a known DPV concept");
        }
    }

    #[test]
    fn every_legal_basis_of_a_purpose_is_exported_with_the_note_on_which_applies_when() {
        let src = POLICY.replace(
            "basis = \"contract\"\n",
            "basis = [\"contract\", \"legitimate_interest\"]\nbasis_note = \"Contract for customers\"\n",
        );
        let l = crate::load_source(SourceFile::new("p.toml", &src)).unwrap();
        let s = export(&l.policy).to_string();
        assert!(
            s.contains(
                r#""dpv:hasLegalBasis":[{"@id":"eu-gdpr:A6-1-b"},{"@id":"eu-gdpr:A6-1-f"}]"#
            ),
            "{s}"
        );
        assert!(s.contains("Contract for customers"), "{s}");
    }

    #[test]
    fn a_dpf_transfer_is_an_adequacy_based_cross_border_transfer_and_hierarchy_is_kept() {
        let l = crate::load_source(SourceFile::new("p.toml", POLICY)).unwrap();
        let doc = export(&l.policy);
        let s = doc.to_string();
        assert!(
            s.contains(r#""dpv:hasThirdCountry":{"@id":"loc:US"}"#),
            "{s}"
        );
        assert!(
            s.contains(
                r#""dpv:hasLegalBasis":[{"@id":"eu-gdpr:A45-3"},{"@id":"eu-gdpr:A46-2-c"}]"#
            ),
            "{s}"
        );
        assert!(
            s.contains(
                r#""skos:broader":[{"@id":"pd:CommunicationsMetadata"},{"@id":"ex:category/mail"}]"#
            ),
            "{s}"
        );
        assert!(
            s.contains(r#""dpv:hasLegalBasis":[{"@id":"eu-gdpr:A6-1-b"}]"#),
            "{s}"
        );
        assert_eq!(doc["@context"]["ex"], "https://acme.example/privacy#");
    }

    #[test]
    fn an_unknown_dpv_concept_in_a_policy_is_refused_with_a_suggestion() {
        let bad = POLICY.replace("pd:EmailContent", "pd:EmailContnet");
        let Err(crate::LoadError::Invalid { diagnostics, .. }) =
            crate::load_source(SourceFile::new("p.toml", bad))
        else {
            panic!("accepted")
        };
        assert_eq!(diagnostics[0].name, "unknown-dpv-concept");
        assert!(
            diagnostics[0]
                .help
                .as_deref()
                .unwrap()
                .contains("pd:EmailContent")
        );
    }

    const SHARED: &str = r#"
[policy]
id = "shop"
[controller]
name = "Shop"
[[category]]
id = "contact"
name = "Contact details"
[[purpose]]
id = "credit"
name = "Credit check"
basis = "legitimate_interest"
categories = ["contact"]
recipients = ["agency"]
[[purpose]]
id = "branding"
name = "Branding"
basis = "consent"
direct_marketing = true
automated_decision = { kind = "profiling" }
categories = ["contact"]
recipients = ["social"]
[[recipient]]
id = "agency"
name = "Credit Agency"
locations = ["NL"]
[[recipient]]
id = "social"
name = "Social Network Inc."
locations = ["US"]
"#;

    fn process<'a>(doc: &'a Value, purpose: &str) -> &'a Value {
        doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["@id"] == format!("ex:activity/{purpose}"))
            .unwrap()
    }

    #[test]
    fn each_process_has_its_own_recipients_profiling_marketing_and_rights() {
        let l = crate::load_source(SourceFile::new("p.toml", SHARED)).unwrap();
        let doc = export(&l.policy);
        let branding = process(&doc, "branding");
        assert_eq!(
            branding["dpv:hasRecipient"],
            json!([{ "@id": "ex:recipient/social" }])
        );
        let s = branding.to_string();
        assert!(s.contains(r#"{"@id":"dpv:DirectMarketing"}"#), "{s}");
        assert!(s.contains(r#"{"@id":"dpv:Profiling"}"#), "{s}");
        assert!(
            s.contains(r#"{"@id":"eu-gdpr:A7-3"}"#) && s.contains(r#"{"@id":"eu-gdpr:A20"}"#),
            "{s}"
        );
        assert!(
            s.contains(r#""skos:note":"transfer mechanism: none stated""#),
            "{s}"
        );
        let credit = process(&doc, "credit");
        assert_eq!(
            credit["dpv:hasRecipient"],
            json!([{ "@id": "ex:recipient/agency" }])
        );
        let c = credit.to_string();
        assert!(
            !c.contains("dpv:Profiling") && !c.contains("DirectMarketing") && !c.contains("A20"),
            "{c}"
        );
        let mut iris = Vec::new();
        collect_iris(&doc, &mut iris);
        for i in iris
            .iter()
            .filter(|i| i.starts_with("dpv:") || i.starts_with("eu-gdpr:"))
        {
            assert!(is_known_concept(i), "{i}");
        }
    }
}
