//! The record of processing activities (Art. 30): one 30(1) entry per purpose the company
//! decides on as controller, and one 30(2) entry per purpose it carries out as processor on
//! behalf of its customers. The legal basis is not a 30(1) field but is added, as supervisory
//! authorities' templates do, because Art. 13(1)(c) needs it anyway; so are profiling, direct
//! marketing and the rights that apply to the activity, which an authority asks about next.
//!
//! Everything is derived per purpose: an activity's recipients are the recipients linked to
//! that purpose, never those that happen to receive one of its categories for another purpose
//! (a branding activity does not list the credit agency its categories also go to). Recipients
//! linked to no purpose are listed apart, so nothing disappears from the record.

use serde::Serialize;

use crate::law;
use crate::model::{AutomatedKind, Basis, Right, Role};
use crate::render::{Catalogue, RenderError, retention_words};
use crate::resolved::{Policy, Purpose};
use crate::text::{Lang, Text};

/// The whole record.
#[derive(Debug, Serialize)]
pub struct Record {
    /// 30(1)(a) / 30(2)(a): who keeps this record.
    pub organisation: Organisation,
    /// 30(1): activities as controller.
    pub controller_activities: Vec<ControllerActivity>,
    /// 30(2): activities as processor.
    pub processor_activities: Vec<ProcessorActivity>,
    /// Recipients the policy declares but links to no purpose: the record cannot say which
    /// activity discloses to them (the checker reports them).
    pub recipients_without_purpose: Vec<String>,
}

/// 30(1)(a): name and contact details, joint controllers, representative, DPO.
#[derive(Debug, Serialize)]
pub struct Organisation {
    /// Name.
    pub name: Option<String>,
    /// Contact details.
    pub contact: Vec<String>,
    /// Joint controllers.
    pub joint_controllers: Vec<String>,
    /// Representative in the Union.
    pub representative: Option<String>,
    /// DPO contact, or why none.
    pub dpo: Option<String>,
}

/// A transfer to a third country (30(1)(e), 30(2)(c)).
#[derive(Debug, Serialize)]
pub struct Transfer {
    /// The recipient.
    pub recipient: String,
    /// The country.
    pub country: String,
    /// The mechanisms with their articles; `none stated` when the policy names none.
    pub mechanism: Vec<String>,
    /// Documentation of the safeguards.
    pub safeguards: Option<String>,
}

/// Retention of one category (30(1)(f)).
#[derive(Debug, Serialize)]
pub struct TimeLimit {
    /// Category id.
    pub category: String,
    /// The time limit in words.
    pub limit: String,
}

/// A 30(1) entry.
#[derive(Debug, Serialize)]
pub struct ControllerActivity {
    /// Purpose id.
    pub id: String,
    /// 30(1)(b): the purpose.
    pub purpose: String,
    /// The legal basis (added column), e.g. `Art. 6(1)(b)`, alternatives joined by `or`
    /// (`Art. 6(1)(a) or Art. 6(1)(f)`), with the Art. 9(2) condition.
    pub legal_basis: Option<String>,
    /// With several bases: which applies when, as the policy says (Art. 13(1)(c)).
    pub basis_note: Option<String>,
    /// The legitimate interest pursued, for Art. 6(1)(f) (Art. 13(1)(d)).
    pub legitimate_interest: Option<String>,
    /// 30(1)(c): categories of data subjects.
    pub data_subjects: Vec<String>,
    /// 30(1)(c): categories of personal data.
    pub personal_data: Vec<String>,
    /// Special or criminal categories among them.
    pub special_categories: Vec<String>,
    /// 30(1)(d): recipients.
    pub recipients: Vec<String>,
    /// 30(1)(e): transfers.
    pub transfers: Vec<Transfer>,
    /// 30(1)(f): time limits for erasure.
    pub time_limits: Vec<TimeLimit>,
    /// 30(1)(g): technical and organisational measures.
    pub measures: Vec<String>,
    /// Profiling or automated decisions (Art. 13(2)(f), 22): the kind and its logic.
    pub profiling: Option<String>,
    /// Whether the activity is direct marketing (Art. 21(2): an objection is absolute).
    pub direct_marketing: bool,
    /// The data-subject rights that apply to this activity under the GDPR, with their articles.
    pub rights: Vec<String>,
}

/// A 30(2) entry.
#[derive(Debug, Serialize)]
pub struct ProcessorActivity {
    /// Purpose id.
    pub id: String,
    /// 30(2)(b): category of processing.
    pub processing: String,
    /// 30(2)(a): the controller(s) on whose behalf.
    pub on_behalf_of: Option<String>,
    /// The agreement (Art. 28(3)).
    pub agreement: Option<String>,
    /// Categories of personal data.
    pub personal_data: Vec<String>,
    /// Sub-processors engaged.
    pub sub_processors: Vec<String>,
    /// 30(2)(c): transfers.
    pub transfers: Vec<Transfer>,
    /// 30(2)(d): measures.
    pub measures: Vec<String>,
}

/// What the record says where the policy states nothing (a transfer without a mechanism, a
/// category without a retention rule): a gap to fix, never an empty cell.
pub const NONE_STATED: &str = "none stated";

/// Builds the record from a policy, with texts in `lang`.
pub fn record(p: &Policy, lang: Lang) -> Result<Record, RenderError> {
    let cat = Catalogue::get(lang)?;
    let tx = |t: &Text| t.get_or_any(lang).to_owned();
    let measures: Vec<String> = p.measures.iter().map(|m| tx(&m.description)).collect();
    let transfers = |purpose: &Purpose| -> Vec<Transfer> {
        let mut out = Vec::new();
        for rid in recipients_of(p, purpose) {
            let Some(r) = p.recipient(&rid) else { continue };
            for country in &r.third_countries {
                out.push(Transfer {
                    recipient: r.name.clone(),
                    country: country.clone(),
                    mechanism: if r.transfer.is_empty() {
                        vec![NONE_STATED.to_owned()]
                    } else {
                        r.transfer
                            .iter()
                            .map(|m| {
                                format!(
                                    "{} (Art. {})",
                                    mechanism_key(*m),
                                    law::mechanism_article(*m)
                                )
                            })
                            .collect()
                    },
                    safeguards: r.safeguards.as_ref().map(tx),
                });
            }
        }
        out
    };
    let names = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| p.category(id).map_or_else(|| id.clone(), |c| tx(&c.name)))
            .collect()
    };

    let mut controller_activities = Vec::new();
    let mut processor_activities = Vec::new();
    for purpose in &p.purposes {
        let description = match &purpose.description {
            Some(d) => format!("{}: {}", tx(&purpose.name), tx(d)),
            None => tx(&purpose.name),
        };
        if purpose.role == Role::Processor {
            processor_activities.push(ProcessorActivity {
                id: purpose.id.clone(),
                processing: description,
                on_behalf_of: purpose.on_behalf_of.as_ref().map(tx),
                agreement: purpose.dpa.as_ref().map(tx),
                personal_data: names(&purpose.categories),
                sub_processors: recipients_of(p, purpose)
                    .iter()
                    .filter_map(|r| p.recipient(r))
                    .map(|r| r.name.clone())
                    .collect(),
                transfers: transfers(purpose),
                measures: measures.clone(),
            });
            continue;
        }
        let mut time_limits = Vec::new();
        for cid in &purpose.categories {
            if let Some(c) = p.category(cid) {
                let limit = match &c.retention {
                    _ if !c.stored => cat.t("label.never_stored")?.to_owned(),
                    Some(r) => Some(retention_words(p, r, lang, cat)?)
                        .filter(|w| !w.is_empty())
                        .unwrap_or_else(|| NONE_STATED.to_owned()),
                    None => NONE_STATED.to_owned(),
                };
                time_limits.push(TimeLimit {
                    category: cid.clone(),
                    limit,
                });
            }
        }
        controller_activities.push(ControllerActivity {
            id: purpose.id.clone(),
            purpose: description,
            // Alternatives joined by "or" (the note says which applies when), then the
            // Art. 9(2) condition, which applies on top of them.
            legal_basis: {
                let alternatives = purpose
                    .bases
                    .iter()
                    .map(|b| format!("Art. {}", law::basis_article(*b)))
                    .collect::<Vec<_>>()
                    .join(" or ");
                let parts: Vec<String> = Some(alternatives)
                    .filter(|a| !a.is_empty())
                    .into_iter()
                    .chain(
                        purpose
                            .special_condition_article
                            .map(|a| format!("Art. {a}")),
                    )
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            },
            basis_note: purpose.basis_note.as_ref().map(tx),
            legitimate_interest: purpose.legitimate_interest.as_ref().map(tx),
            data_subjects: purpose
                .subjects
                .iter()
                .map(|s| p.subject(s).map_or_else(|| s.clone(), |x| tx(&x.name)))
                .collect(),
            personal_data: names(&purpose.categories),
            special_categories: purpose
                .categories
                .iter()
                .filter_map(|c| p.category(c))
                .filter(|c| c.special.is_some() || c.criminal)
                .map(|c| tx(&c.name))
                .collect(),
            recipients: recipients_of(p, purpose)
                .iter()
                .filter_map(|r| p.recipient(r))
                .map(|r| r.name.clone())
                .collect(),
            transfers: transfers(purpose),
            time_limits,
            measures: measures.clone(),
            profiling: purpose
                .automated_decision
                .as_ref()
                .filter(|a| a.kind != AutomatedKind::None)
                .map(|a| {
                    let kind = match a.kind {
                        AutomatedKind::SolelyAutomated => "automated decision (Art. 22(1))",
                        _ => "profiling",
                    };
                    match &a.logic {
                        Some(logic) => format!("{kind}: {}", tx(logic)),
                        None => kind.to_owned(),
                    }
                }),
            direct_marketing: purpose.direct_marketing,
            rights: rights_for(purpose)
                .into_iter()
                .map(|r| format!("{} (Art. {})", r.key(), r.article()))
                .collect(),
        });
    }
    let ctrl = &p.controller;
    let organisation = Organisation {
        name: ctrl.name.clone(),
        contact: ctrl
            .address
            .iter()
            .cloned()
            .chain(ctrl.contact.iter().map(|c| c.address.clone()))
            .collect(),
        joint_controllers: p.joint_controllers.iter().map(|j| tx(&j.name)).collect(),
        representative: ctrl.representative.as_ref().map(|r| r.name.clone()),
        dpo: ctrl.dpo.as_ref().map(|d| {
            if d.appointed {
                [d.name.clone(), d.email.clone(), d.phone.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                format!(
                    "none appointed: {}",
                    d.reason.as_ref().map(tx).unwrap_or_default()
                )
            }
        }),
    };
    Ok(Record {
        organisation,
        controller_activities,
        processor_activities,
        recipients_without_purpose: p
            .recipients
            .iter()
            .filter(|r| !p.purposes.iter().any(|x| x.recipients.contains(&r.id)))
            .map(|r| r.name.clone())
            .collect(),
    })
}

/// The rights a data subject has for one purpose, by its legal basis (Art. 15–22, 7(3)):
/// access, rectification, erasure and restriction always; portability on consent or contract
/// (Art. 20(1)(a)); objection on public task or legitimate interest, and always against direct
/// marketing (Art. 21(1), (2)); withdrawal on consent (Art. 7(3)); human intervention for an
/// Art. 22(1) decision (Art. 22(3)). With several bases, a right that any of them gives is
/// listed: which applies depends on the person's case (`basis_note`).
pub(crate) fn rights_for(purpose: &Purpose) -> Vec<Right> {
    let mut out = vec![
        Right::Access,
        Right::Rectification,
        Right::Erasure,
        Right::Restriction,
    ];
    let any = |f: fn(&Basis) -> bool| purpose.bases.iter().any(f);
    if any(|b| matches!(b, Basis::Consent | Basis::Contract)) {
        out.push(Right::Portability);
    }
    if any(|b| matches!(b, Basis::PublicTask | Basis::LegitimateInterest))
        || purpose.direct_marketing
    {
        out.push(Right::Objection);
    }
    if purpose.bases.contains(&Basis::Consent) {
        out.push(Right::WithdrawConsent);
    }
    if purpose
        .automated_decision
        .as_ref()
        .is_some_and(|a| a.kind == AutomatedKind::SolelyAutomated)
    {
        out.push(Right::HumanIntervention);
    }
    out
}

fn mechanism_key(m: crate::model::Mechanism) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Recipients of a purpose: those the policy links to it (Art. 30(1)(d) per activity).
fn recipients_of(_p: &Policy, purpose: &Purpose) -> Vec<String> {
    purpose.recipients.clone()
}

impl Record {
    /// One CSV row per activity, 30(1) rows first; list fields joined with `; `.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "record",
            "activity",
            "purpose",
            "legal_basis",
            "basis_note",
            "controller",
            "on_behalf_of",
            "dpo",
            "data_subjects",
            "personal_data",
            "special_categories",
            "recipients",
            "third_country_transfers",
            "time_limits",
            "security_measures",
            "profiling",
            "direct_marketing",
            "rights",
        ])?;
        let org = &self.organisation;
        let controller = [org.name.clone().unwrap_or_default()]
            .into_iter()
            .chain(org.joint_controllers.iter().cloned())
            .collect::<Vec<_>>()
            .join("; ");
        let transfers = |t: &[Transfer]| {
            t.iter()
                .map(|t| {
                    format!(
                        "{} ({}): {}",
                        t.recipient,
                        t.country,
                        t.mechanism.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        for a in &self.controller_activities {
            w.write_record([
                "30(1)",
                &a.id,
                &a.purpose,
                a.legal_basis.as_deref().unwrap_or(""),
                a.basis_note.as_deref().unwrap_or(""),
                &controller,
                "",
                org.dpo.as_deref().unwrap_or(""),
                &a.data_subjects.join("; "),
                &a.personal_data.join("; "),
                &a.special_categories.join("; "),
                &a.recipients.join("; "),
                &transfers(&a.transfers),
                &a.time_limits
                    .iter()
                    .map(|t| format!("{}: {}", t.category, t.limit))
                    .collect::<Vec<_>>()
                    .join("; "),
                &a.measures.join("; "),
                a.profiling.as_deref().unwrap_or(""),
                if a.direct_marketing { "yes" } else { "no" },
                &a.rights.join("; "),
            ])?;
        }
        for a in &self.processor_activities {
            w.write_record([
                "30(2)",
                &a.id,
                &a.processing,
                "",
                "",
                org.name.as_deref().unwrap_or(""),
                a.on_behalf_of.as_deref().unwrap_or(""),
                org.dpo.as_deref().unwrap_or(""),
                "",
                &a.personal_data.join("; "),
                "",
                &a.sub_processors.join("; "),
                &transfers(&a.transfers),
                "",
                &a.measures.join("; "),
                "",
                "",
                "",
            ])?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    const POLICY: &str = r#"
[policy]
[controller]
name = "Acme"
contact = [{ kind = "email", address = "privacy@acme.example" }]
[[subject]]
id = "customers"
name = "Customers"
[[category]]
id = "invoices"
name = "Invoices"
subjects = ["customers"]
retention = { period = "7 years", statutory = { law = "art. 52 AWR" } }
[[category]]
id = "mail"
name = "Mail"
[[purpose]]
id = "billing"
name = "Billing"
basis = "legal_obligation"
legal_obligation = "art. 52 AWR"
categories = ["invoices"]
[[purpose]]
id = "assistant"
name = "AI assistant"
role = "processor"
on_behalf_of = "our customers"
dpa = "DPA v2"
categories = ["mail"]
recipients = ["openai"]
[[recipient]]
id = "openai"
name = "OpenAI"
locations = ["US"]
transfer = ["dpf"]
"#;

    #[test]
    fn controller_and_processor_activities_go_to_30_1_and_30_2() {
        let l = crate::load_source(SourceFile::new("p.toml", POLICY)).unwrap();
        let r = record(&l.policy, Lang::En).unwrap();
        assert_eq!(r.controller_activities.len(), 1);
        let a = &r.controller_activities[0];
        assert_eq!(a.legal_basis.as_deref(), Some("Art. 6(1)(c)"));
        assert_eq!(a.data_subjects, ["Customers"]);
        assert_eq!(a.time_limits[0].limit, "7 years");
        assert_eq!(r.processor_activities.len(), 1);
        let b = &r.processor_activities[0];
        assert_eq!(b.on_behalf_of.as_deref(), Some("our customers"));
        assert_eq!(b.transfers[0].country, "US");
        assert!(
            b.transfers[0].mechanism[0].contains("2023/1795"),
            "{:?}",
            b.transfers[0].mechanism
        );
    }

    #[test]
    fn several_bases_are_recorded_as_alternatives_with_the_note_and_the_rights_of_each() {
        let src = POLICY.replace(
            "basis = \"legal_obligation\"\n",
            "basis = [\"legal_obligation\", \"consent\"]\nbasis_note = \"Consent for extras\"\n",
        );
        let l = crate::load_source(SourceFile::new("p.toml", &src)).unwrap();
        let r = record(&l.policy, Lang::En).unwrap();
        let a = &r.controller_activities[0];
        assert_eq!(
            a.legal_basis.as_deref(),
            Some("Art. 6(1)(c) or Art. 6(1)(a)")
        );
        assert_eq!(a.basis_note.as_deref(), Some("Consent for extras"));
        assert!(
            a.rights.iter().any(|r| r == "withdraw_consent (Art. 7(3))"),
            "{:?}",
            a.rights
        );
        let csv = r.to_csv().unwrap();
        assert!(
            csv.contains("Art. 6(1)(c) or Art. 6(1)(a),Consent for extras,"),
            "{csv}"
        );
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_activity() {
        let l = crate::load_source(SourceFile::new("p.toml", POLICY)).unwrap();
        let csv = record(&l.policy, Lang::En).unwrap().to_csv().unwrap();
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<_> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][0], "30(1)");
        assert_eq!(&rows[1][0], "30(2)");
        assert_eq!(
            &rows[1][12],
            "OpenAI (US): dpf (Art. 45 (Decision (EU) 2023/1795))"
        );
    }

    /// Issue 22: a webshop's social-media branding shares the contact category with credit
    /// checks; the record listed the credit agency under branding too.
    const SHARED: &str = r#"
[policy]
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
name = "Social-media branding"
basis = "consent"
direct_marketing = true
automated_decision = { kind = "profiling", logic = "Interest segments from purchases" }
categories = ["contact"]
recipients = ["social"]
[[recipient]]
id = "agency"
name = "Credit Agency"
kind = "controller"
locations = ["NL"]
[[recipient]]
id = "social"
name = "Social Network Inc."
kind = "joint_controller"
locations = ["US"]
[[recipient]]
id = "loose"
name = "Loose Ends Ltd."
categories = ["contact"]
"#;

    fn shared() -> Record {
        let l = crate::load_source(SourceFile::new("p.toml", SHARED)).unwrap();
        record(&l.policy, Lang::En).unwrap()
    }

    #[test]
    fn an_activity_lists_only_the_recipients_linked_to_its_purpose() {
        let r = shared();
        let branding = r
            .controller_activities
            .iter()
            .find(|a| a.id == "branding")
            .unwrap();
        assert_eq!(branding.recipients, ["Social Network Inc."]);
        let credit = r
            .controller_activities
            .iter()
            .find(|a| a.id == "credit")
            .unwrap();
        assert_eq!(credit.recipients, ["Credit Agency"]);
        assert_eq!(r.recipients_without_purpose, ["Loose Ends Ltd."]);
    }

    #[test]
    fn a_transfer_without_a_mechanism_is_recorded_as_none_stated() {
        let r = shared();
        let branding = r
            .controller_activities
            .iter()
            .find(|a| a.id == "branding")
            .unwrap();
        assert_eq!(branding.transfers[0].mechanism, [NONE_STATED]);
        let csv = r.to_csv().unwrap();
        assert!(
            csv.contains("Social Network Inc. (US): none stated"),
            "{csv}"
        );
    }

    #[test]
    fn profiling_direct_marketing_and_the_rights_of_each_activity_are_recorded() {
        let r = shared();
        let branding = r
            .controller_activities
            .iter()
            .find(|a| a.id == "branding")
            .unwrap();
        assert_eq!(
            branding.profiling.as_deref(),
            Some("profiling: Interest segments from purchases")
        );
        assert!(branding.direct_marketing);
        // Consent: portability and withdrawal; direct marketing: objection (Art. 21(2)).
        for right in [
            "portability (Art. 20)",
            "objection (Art. 21)",
            "withdraw_consent (Art. 7(3))",
        ] {
            assert!(
                branding.rights.iter().any(|r| r == right),
                "{:?}",
                branding.rights
            );
        }
        let credit = r
            .controller_activities
            .iter()
            .find(|a| a.id == "credit")
            .unwrap();
        assert!(credit.profiling.is_none() && !credit.direct_marketing);
        // Legitimate interest: objection, but no portability (Art. 20(1)(a)) nor withdrawal.
        assert!(credit.rights.iter().any(|r| r == "objection (Art. 21)"));
        assert!(
            !credit
                .rights
                .iter()
                .any(|r| r.starts_with("portability") || r.starts_with("withdraw"))
        );
        let csv = r.to_csv().unwrap();
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let header = rd.headers().unwrap().clone();
        assert!(header.iter().any(|h| h == "profiling") && header.iter().any(|h| h == "rights"));
    }
}
