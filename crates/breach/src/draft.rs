//! Drafts from the record: the notification to the Dutch authority (Autoriteit
//! Persoonsgegevens) in the order of its online form's chapters, the letter to the people
//! affected (Art. 34(2)) in Dutch or English, and a processor's notice to each controller
//! (Art. 33(2)). Drafts only: nothing here sends anything, and no draft leaves without an
//! authorised person's approval (PRODUCT.md C7).
//!
//! The questions are Custos's own wording of what each chapter of the AP's form asks; the
//! chapter order follows the form. Every question the record does not answer is listed in
//! [`ApDraft::missing`], so the privacy officer sees at once what to fill in before sending.

use custos_policy::Lang;
use custos_types::TenantId;
use serde::{Deserialize, Serialize};

use crate::assess::Decision;
use crate::record::{
    AvailabilityLoss, Breach, Count, Exfiltration, Kind, Notification, Occurrence, Party,
    Unintelligibility, Vulnerable,
};

/// A contact point: a person or a function, with how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// Name or function, e.g. `Privacy officer`.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Telephone number, if any.
    #[serde(default)]
    pub phone: Option<String>,
}

/// Who the organisation is, as the notifications need it (supplied by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ControllerDetails {
    /// Legal name.
    pub name: String,
    /// Registration, e.g. the KvK number.
    #[serde(default)]
    pub registration: Option<String>,
    /// General contact point.
    pub contact: Contact,
    /// The data protection officer, if one is appointed (Art. 37).
    #[serde(default)]
    pub dpo: Option<Contact>,
}

impl ControllerDetails {
    /// The contact point for the breach: the DPO, else the general contact (Art. 33(3)(b)).
    pub fn contact_point(&self) -> &Contact {
        self.dpo.as_ref().unwrap_or(&self.contact)
    }
}

/// One question of a chapter with its answer, if the record has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The question in Dutch.
    pub question_nl: String,
    /// The question in English.
    pub question_en: String,
    /// The answer, or `None` when still open.
    pub answer: Option<String>,
}

/// One chapter of the AP's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    /// Stable id, e.g. `timeline`.
    pub id: String,
    /// Title in Dutch.
    pub title_nl: String,
    /// Title in English.
    pub title_en: String,
    /// The questions.
    pub answers: Vec<Item>,
}

/// A draft notification to the Autoriteit Persoonsgegevens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApDraft {
    /// The chapters, in the form's order.
    pub chapters: Vec<Chapter>,
    /// Every question without an answer, as `chapter id: question` in the draft's language.
    pub missing: Vec<String>,
}

/// A letter to one person affected, or a notice to a controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// Its language.
    pub lang: Lang,
    /// The subject line.
    pub subject: String,
    /// The paragraphs, in order.
    pub paragraphs: Vec<String>,
}

fn t(lang: Lang, nl: &str, en: &str) -> String {
    match lang {
        Lang::Nl => nl.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn count_text(c: &Count, lang: Lang) -> String {
    match (c, lang) {
        (Count::Exact { n }, _) => n.to_string(),
        (Count::Approximate { n }, Lang::Nl) => format!("ongeveer {n}"),
        (Count::Approximate { n }, Lang::En) => format!("about {n}"),
        (Count::Unknown, _) => t(lang, "onbekend", "unknown"),
    }
}

fn yes_no(v: bool, lang: Lang) -> String {
    t(
        lang,
        if v { "ja" } else { "nee" },
        if v { "yes" } else { "no" },
    )
}

fn kind_text(k: Kind, lang: Lang) -> String {
    match k {
        Kind::Confidentiality => t(lang, "vertrouwelijkheid", "confidentiality"),
        Kind::Integrity => t(lang, "integriteit", "integrity"),
        Kind::Availability => t(lang, "beschikbaarheid", "availability"),
    }
}

fn data_text(b: &Breach, lang: Lang) -> Option<String> {
    let d = b.data.as_ref()?.value.clone();
    let mut parts: Vec<String> = d.categories.clone();
    for (flag, nl, en) in [
        (
            d.special_categories,
            "bijzondere persoonsgegevens (art. 9 AVG)",
            "special categories of data (Art. 9 GDPR)",
        ),
        (
            d.criminal,
            "strafrechtelijke gegevens (art. 10 AVG)",
            "criminal data (Art. 10 GDPR)",
        ),
        (
            d.national_id,
            "BSN of ander nationaal identificatienummer",
            "national identification number (such as the BSN)",
        ),
        (d.financial, "financiële gegevens", "financial data"),
        (d.credentials, "inloggegevens", "login credentials"),
    ] {
        if flag {
            parts.push(t(lang, nl, en));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn list(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join("; "))
}

struct ChapterBuilder {
    lang: Lang,
    chapter: Chapter,
    missing: Vec<String>,
}

impl ChapterBuilder {
    fn new(lang: Lang, id: &str, title_nl: &str, title_en: &str) -> ChapterBuilder {
        ChapterBuilder {
            lang,
            chapter: Chapter {
                id: id.into(),
                title_nl: title_nl.into(),
                title_en: title_en.into(),
                answers: Vec::new(),
            },
            missing: Vec::new(),
        }
    }

    fn q(mut self, nl: &str, en: &str, answer: Option<String>) -> ChapterBuilder {
        if answer.is_none() {
            self.missing
                .push(format!("{}: {}", self.chapter.id, t(self.lang, nl, en)));
        }
        self.chapter.answers.push(Item {
            question_nl: nl.into(),
            question_en: en.into(),
            answer,
        });
        self
    }
}

/// Drafts the notification to the Autoriteit Persoonsgegevens, chapter by chapter in the order
/// of its online form: introduction, international, controller, timeline, nature, personal data,
/// people affected, prior measures, consequences, follow-up. Answers that Custos phrases itself
/// (yes/no, kinds, counts) are in `lang`; free text is as recorded. `decision` fills in whether
/// and why (not) the people affected are told, when the record does not say so yet.
pub fn ap_notification(
    b: &Breach,
    controller: &ControllerDetails,
    decision: Option<&Decision>,
    lang: Lang,
) -> ApDraft {
    let text = |a: &Option<crate::record::Answer<String>>| a.as_ref().map(|a| a.value.clone());
    let ts = |t: jiff::Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let mut chapters = Vec::new();
    let mut missing = Vec::new();
    let mut push = |c: ChapterBuilder| {
        missing.extend(c.missing);
        chapters.push(c.chapter);
    };

    let (kind, follows) = match &b.notification {
        Notification::New => (t(lang, "nieuwe melding", "new notification"), None),
        Notification::FollowUp { follows } => (
            t(lang, "vervolgmelding", "follow-up notification"),
            follows.as_ref().map(ToString::to_string),
        ),
    };
    let mut intro = ChapterBuilder::new(lang, "introduction", "Inleiding", "Introduction")
        .q(
            "Gaat het om een nieuwe melding of een vervolgmelding?",
            "Is this a new notification or a follow-up?",
            Some(kind),
        )
        .q(
            "Uw eigen referentie",
            "Your own reference",
            Some(b.id.to_string()),
        );
    if matches!(b.notification, Notification::FollowUp { .. }) {
        intro = intro.q(
            "Op welke eerdere melding volgt deze?",
            "Which earlier notification does this follow?",
            follows,
        );
    }
    push(intro);

    let cb = b.cross_border.as_ref().map(|c| &c.value);
    push(
        ChapterBuilder::new(lang, "international", "Internationaal", "International")
            .q(
                "Zijn er betrokkenen in andere EU-landen?",
                "Are people in other EU member states affected?",
                cb.map(|c| match list(&c.member_states) {
                    Some(states) => format!("{}: {states}", yes_no(true, lang)),
                    None => yes_no(false, lang),
                }),
            )
            .q(
                "Welke andere toezichthouders zijn of worden ingelicht?",
                "Which other supervisory authorities are or will be notified?",
                cb.map(|c| list(&c.other_authorities).unwrap_or_else(|| t(lang, "geen", "none"))),
            ),
    );

    let cp = controller.contact_point();
    push(
        ChapterBuilder::new(
            lang,
            "controller",
            "Verwerkingsverantwoordelijke",
            "Controller",
        )
        .q(
            "Naam van de organisatie",
            "Name of the organisation",
            (!controller.name.is_empty()).then(|| controller.name.clone()),
        )
        .q(
            "KvK-nummer",
            "Chamber of Commerce (KvK) number",
            controller.registration.clone(),
        )
        .q(
            "Contactpersoon of functionaris gegevensbescherming",
            "Contact point or data protection officer (Art. 33(3)(b))",
            (!cp.email.is_empty()).then(|| {
                let phone = cp
                    .phone
                    .as_ref()
                    .map(|p| format!(", {p}"))
                    .unwrap_or_default();
                format!("{} <{}>{phone}", cp.name, cp.email)
            }),
        ),
    );

    let timeline = ChapterBuilder::new(lang, "timeline", "Tijdlijn", "Timeline")
        .q(
            "Wanneer vond het datalek plaats?",
            "When did the breach occur?",
            b.occurred.as_ref().map(|o| match &o.value {
                Occurrence::Day { date } => date.to_string(),
                Occurrence::Range { from, to } => format!("{} – {}", ts(*from), ts(*to)),
                Occurrence::OngoingSince { since } => {
                    format!(
                        "{} {}",
                        t(lang, "gaande sinds", "ongoing since"),
                        ts(*since)
                    )
                }
                Occurrence::Unknown => t(lang, "onbekend", "unknown"),
            }),
        )
        .q(
            "Wanneer werd u zich bewust van het datalek?",
            "When did you become aware of the breach?",
            Some(ts(b.aware_at.value)),
        )
        .q(
            "Wanneer is het datalek beëindigd?",
            "When was the breach contained?",
            b.contained_at.as_ref().map(|c| ts(c.value)),
        );
    // Asked only of a late notification; `Clock::requires_delay_reason` says when it is late.
    let timeline = match &b.delay_reason {
        Some(reason) => timeline.q(
            "Waarom meldt u later dan 72 uur na ontdekking?",
            "Why is this notification later than 72 hours after awareness?",
            Some(reason.value.clone()),
        ),
        None => timeline,
    };
    push(timeline);

    push(
        ChapterBuilder::new(
            lang,
            "nature",
            "Aard van het datalek",
            "Nature of the breach",
        )
        .q("Wat is er gebeurd?", "What happened?", text(&b.description))
        .q(
            "Hoe is het datalek ontdekt?",
            "How was the breach discovered?",
            text(&b.discovery),
        )
        .q(
            "Gaat het om vertrouwelijkheid, integriteit en/of beschikbaarheid?",
            "Confidentiality, integrity and/or availability?",
            Some(
                b.kinds
                    .value
                    .iter()
                    .map(|k| kind_text(*k, lang))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        )
        .q(
            "Zijn gegevens buiten de organisatie terechtgekomen (exfiltratie)?",
            "Did data leave the organisation (exfiltration)?",
            b.exfiltration.as_ref().map(|e| match &e.value {
                Exfiltration::Yes => t(lang, "ja", "yes"),
                Exfiltration::Likely => t(lang, "waarschijnlijk", "likely"),
                Exfiltration::No { evidence } => format!("{} ({evidence})", t(lang, "nee", "no")),
                Exfiltration::NotAssessable => {
                    t(lang, "niet vast te stellen", "cannot be assessed")
                }
            }),
        ),
    );

    let d = b.data.as_ref().map(|d| &d.value);
    push(
        ChapterBuilder::new(lang, "personal_data", "Persoonsgegevens", "Personal data")
            .q(
                "Om welke soorten persoonsgegevens gaat het?",
                "Which types of personal data are involved?",
                data_text(b, lang),
            )
            .q(
                "Gaat het om bijzondere persoonsgegevens of strafrechtelijke gegevens?",
                "Are special categories or criminal data involved?",
                d.map(|d| yes_no(d.special_categories || d.criminal, lang)),
            )
            .q(
                "Om hoeveel records gaat het?",
                "How many records are involved?",
                b.record_count.as_ref().map(|c| count_text(&c.value, lang)),
            ),
    );

    let s = b.subjects.as_ref().map(|s| &s.value);
    push(
        ChapterBuilder::new(lang, "people", "Betrokkenen", "People affected")
            .q(
                "Om welke groepen personen gaat het?",
                "Which categories of people are affected?",
                s.and_then(|s| list(&s.categories)),
            )
            .q(
                "Zijn er kwetsbare groepen bij, zoals kinderen of patiënten?",
                "Are vulnerable groups, such as children or patients, affected?",
                s.map(|s| {
                    if s.vulnerable.is_empty() {
                        yes_no(false, lang)
                    } else {
                        s.vulnerable
                            .iter()
                            .map(|v| match v {
                                Vulnerable::Children => t(lang, "kinderen", "children"),
                                Vulnerable::Patients => t(lang, "patiënten", "patients"),
                                Vulnerable::Other => {
                                    t(lang, "andere kwetsbare personen", "other vulnerable people")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                }),
            )
            .q(
                "Om hoeveel personen gaat het?",
                "How many people are affected?",
                b.subject_count.as_ref().map(|c| count_text(&c.value, lang)),
            ),
    );

    push(
        ChapterBuilder::new(
            lang,
            "prior_measures",
            "Voorafgaande maatregelen",
            "Prior measures",
        )
        .q(
            "Waren de gegevens versleuteld of anderszins onbegrijpelijk gemaakt?",
            "Was the data encrypted or otherwise made unintelligible?",
            b.unintelligible.as_ref().map(|u| match u.value {
                Unintelligibility::EncryptedKeySafe => t(
                    lang,
                    "ja, versleuteld; de sleutel is niet gelekt",
                    "yes, encrypted; the key was not compromised",
                ),
                Unintelligibility::EncryptedKeyCompromised => t(
                    lang,
                    "versleuteld, maar de sleutel is ook gelekt",
                    "encrypted, but the key was compromised too",
                ),
                Unintelligibility::NotEncrypted => t(lang, "nee", "no"),
            }),
        )
        .q(
            "Is het verlies van beschikbaarheid tijdelijk of blijvend?",
            "Is the loss of availability temporary or permanent?",
            if b.is(Kind::Availability) {
                b.availability_loss.as_ref().map(|a| match a.value {
                    AvailabilityLoss::Temporary {
                        restored_within_hours,
                    } => match lang {
                        Lang::Nl => {
                            format!("tijdelijk; hersteld binnen {restored_within_hours} uur")
                        }
                        Lang::En => {
                            format!("temporary; restored within {restored_within_hours} hours")
                        }
                    },
                    AvailabilityLoss::Permanent => t(lang, "blijvend", "permanent"),
                })
            } else {
                Some(t(lang, "niet van toepassing", "not applicable"))
            },
        ),
    );

    push(
        ChapterBuilder::new(lang, "consequences", "Gevolgen", "Consequences").q(
            "Wat zijn de mogelijke gevolgen voor de betrokkenen?",
            "What are the likely consequences for the people affected?",
            text(&b.consequences),
        ),
    );

    let told_subjects = b.first_told(|p| matches!(p, Party::Subjects | Party::Public));
    let subjects_answer = match (told_subjects, decision) {
        (Some(told), _) => Some(format!("{} {}", t(lang, "ja, op", "yes, on"), ts(told.at))),
        (None, Some(d)) if d.notify_subjects => Some(t(
            lang,
            "ja, dat gebeurt zonder onnodige vertraging",
            "yes, without undue delay",
        )),
        (None, Some(d)) => Some(format!("{}: {}", t(lang, "nee", "no"), d.reasons)),
        (None, None) => None,
    };
    push(
        ChapterBuilder::new(lang, "follow_up", "Vervolgacties", "Follow-up")
            .q(
                "Welke maatregelen heeft u genomen?",
                "Which measures have you taken? (Art. 33(3)(d))",
                b.measures_taken.as_ref().and_then(|m| list(&m.value)),
            )
            .q(
                "Welke maatregelen gaat u nog nemen?",
                "Which measures do you propose to take?",
                b.measures_proposed.as_ref().and_then(|m| list(&m.value)),
            )
            .q(
                "Heeft u de betrokkenen ingelicht, en zo niet, waarom niet?",
                "Have you informed the people affected, and if not, why not?",
                subjects_answer,
            ),
    );

    ApDraft { chapters, missing }
}

fn advice(b: &Breach, lang: Lang) -> Vec<String> {
    let d = b.data_types();
    let mut out = Vec::new();
    if let Some(a) = &b.advice {
        out.push(a.value.clone());
    }
    if d.credentials {
        out.push(t(
            lang,
            "Verander uw wachtwoord, ook bij andere diensten waar u hetzelfde wachtwoord gebruikt.",
            "Change your password, also for other services where you use the same password.",
        ));
    }
    if d.financial {
        out.push(t(
            lang,
            "Controleer uw bankafschriften en neem contact op met uw bank als u iets vreemds ziet.",
            "Check your bank statements and contact your bank if you see anything unusual.",
        ));
    }
    if d.national_id {
        out.push(t(lang, "Wees alert op misbruik van uw identiteit; bij vermoeden van fraude kunt u aangifte doen.", "Watch for misuse of your identity; if you suspect fraud, report it to the police."));
    }
    out.push(t(lang, "Wees extra alert op e-mails, sms-berichten en telefoontjes die om gegevens of betalingen vragen.", "Be extra careful with e-mails, text messages and calls asking for details or payments."));
    out
}

/// Drafts the letter to a person affected (Art. 34(2) GDPR): in clear and plain language, what
/// happened and which data, the likely consequences, the measures taken, what the person can
/// do, and the contact point (the DPO, else the general contact).
pub fn subject_letter(b: &Breach, controller: &ControllerDetails, lang: Lang) -> Letter {
    let mut p = Vec::new();
    let what = b.description.as_ref().map(|d| d.value.clone());
    let data = data_text(b, lang);
    p.push(match lang {
        Lang::Nl => format!(
            "Wij laten u weten dat er bij {} een datalek is geweest waarbij uw persoonsgegevens betrokken zijn. {}",
            controller.name,
            what.unwrap_or_default()
        ),
        Lang::En => format!(
            "We are writing to tell you that {} has had a data breach involving your personal data. {}",
            controller.name,
            what.unwrap_or_default()
        ),
    }.trim_end().to_owned());
    if let Some(data) = data {
        p.push(match lang {
            Lang::Nl => format!("Het gaat om deze gegevens: {data}."),
            Lang::En => format!("The data involved: {data}."),
        });
    }
    if let Some(c) = &b.consequences {
        p.push(match lang {
            Lang::Nl => format!("Mogelijke gevolgen voor u: {}", c.value),
            Lang::En => format!("What this may mean for you: {}", c.value),
        });
    }
    let measures: Vec<String> = b
        .measures_taken
        .iter()
        .chain(&b.measures_proposed)
        .flat_map(|m| m.value.clone())
        .collect();
    if let Some(m) = list(&measures) {
        p.push(match lang {
            Lang::Nl => format!("Wat wij hebben gedaan en nog doen: {m}."),
            Lang::En => format!("What we have done and will do: {m}."),
        });
    }
    p.push(match lang {
        Lang::Nl => format!("Wat u zelf kunt doen: {}", advice(b, lang).join(" ")),
        Lang::En => format!("What you can do: {}", advice(b, lang).join(" ")),
    });
    let cp = controller.contact_point();
    let phone = cp
        .phone
        .as_ref()
        .map(|ph| format!(", {ph}"))
        .unwrap_or_default();
    p.push(match lang {
        Lang::Nl => format!(
            "Heeft u vragen? Neem contact op met {}: {}{phone}.",
            cp.name, cp.email
        ),
        Lang::En => format!("Questions? Contact {}: {}{phone}.", cp.name, cp.email),
    });
    Letter {
        lang,
        subject: match lang {
            Lang::Nl => format!("Datalek bij {}: uw gegevens", controller.name),
            Lang::En => format!("Data breach at {}: your data", controller.name),
        },
        paragraphs: p,
    }
}

/// One controller a processor notifies, with what concerns that controller only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerTenant {
    /// The controller's tenant in Custos.
    pub tenant: TenantId,
    /// The controller's name.
    pub name: String,
    /// How many of its data subjects are affected.
    pub subject_count: Count,
    /// How many of its records are affected.
    pub record_count: Count,
    /// The language of its notice.
    pub lang: Lang,
}

/// A processor's notice to one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorNotice {
    /// The controller's tenant.
    pub tenant: TenantId,
    /// The notice.
    pub letter: Letter,
}

/// Drafts the processor's notice to each controller (Art. 33(2) GDPR: "without undue delay"),
/// with the content Clause 9.2 of the standard contractual clauses of Decision (EU) 2021/915
/// asks for: the nature of the breach with this controller's own counts of subjects and
/// records, the processor's contact point, the likely consequences, and the measures taken or
/// proposed. One notice per controller; no controller sees another's counts.
pub fn processor_notices(
    b: &Breach,
    processor: &ControllerDetails,
    controllers: &[ControllerTenant],
) -> Vec<ProcessorNotice> {
    controllers
        .iter()
        .map(|c| {
            let lang = c.lang;
            let kinds = b.kinds.value.iter().map(|k| kind_text(*k, lang)).collect::<Vec<_>>().join(", ");
            let mut p = vec![match lang {
                Lang::Nl => format!(
                    "Als verwerker melden wij u een inbreuk in verband met persoonsgegevens die wij voor {} verwerken (art. 33 lid 2 AVG). Ons kenmerk: {}.",
                    c.name, b.id
                ),
                Lang::En => format!(
                    "As your processor we notify you of a personal data breach concerning data we process for {} (Art. 33(2) GDPR). Our reference: {}.",
                    c.name, b.id
                ),
            }];
            let what = b.description.as_ref().map(|d| d.value.clone()).unwrap_or_default();
            p.push(match lang {
                Lang::Nl => format!(
                    "Aard: {what} Soort inbreuk: {kinds}. Betrokkenen van u: {}; records: {}.",
                    count_text(&c.subject_count, lang),
                    count_text(&c.record_count, lang)
                ),
                Lang::En => format!(
                    "Nature: {what} Kind of breach: {kinds}. Your data subjects affected: {}; records: {}.",
                    count_text(&c.subject_count, lang),
                    count_text(&c.record_count, lang)
                ),
            }.replace("  ", " "));
            if let Some(data) = data_text(b, lang) {
                p.push(match lang {
                    Lang::Nl => format!("Gegevens: {data}."),
                    Lang::En => format!("Data: {data}."),
                });
            }
            p.push(match (&b.consequences, lang) {
                (Some(cq), Lang::Nl) => format!("Mogelijke gevolgen: {}", cq.value),
                (Some(cq), Lang::En) => format!("Likely consequences: {}", cq.value),
                (None, _) => t(lang, "Mogelijke gevolgen: nog in onderzoek; wij vullen dit aan.", "Likely consequences: still under investigation; we will follow up."),
            });
            let measures: Vec<String> = b.measures_taken.iter().chain(&b.measures_proposed).flat_map(|m| m.value.clone()).collect();
            p.push(match (list(&measures), lang) {
                (Some(m), Lang::Nl) => format!("Maatregelen genomen of voorgesteld: {m}."),
                (Some(m), Lang::En) => format!("Measures taken or proposed: {m}."),
                (None, _) => t(lang, "Maatregelen: nog in onderzoek; wij vullen dit aan.", "Measures: still under investigation; we will follow up."),
            });
            let cp = processor.contact_point();
            p.push(match lang {
                Lang::Nl => format!("Contactpunt bij {}: {} <{}>.", processor.name, cp.name, cp.email),
                Lang::En => format!("Contact point at {}: {} <{}>.", processor.name, cp.name, cp.email),
            });
            ProcessorNotice {
                tenant: c.tenant.clone(),
                letter: Letter {
                    lang,
                    subject: match lang {
                        Lang::Nl => format!("Melding inbreuk persoonsgegevens door verwerker {} ({})", processor.name, b.id),
                        Lang::En => format!("Personal data breach notice from processor {} ({})", processor.name, b.id),
                    },
                    paragraphs: p,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
