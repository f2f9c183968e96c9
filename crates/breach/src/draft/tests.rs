use super::*;
use crate::record::{
    Answer, AvailabilityLoss, BreachId, CrossBorder, DataTypes, Exfiltration, Occurrence, Source,
    Subjects, Told,
};

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("test timestamp")
}

const WHO: &str = "privacy officer";

fn controller() -> ControllerDetails {
    ControllerDetails {
        name: "Voorbeeld B.V.".into(),
        registration: Some("12345678".into()),
        contact: Contact {
            name: "Servicedesk".into(),
            email: "info@voorbeeld.nl".into(),
            phone: None,
        },
        dpo: Some(Contact {
            name: "FG".into(),
            email: "fg@voorbeeld.nl".into(),
            phone: Some("+31 20 123 4567".into()),
        }),
    }
}

fn bare() -> Breach {
    Breach::new(
        BreachId::new("2026-007").expect("valid id"),
        Answer::person(ts("2026-03-02T09:00:00Z"), WHO),
        Answer::person(vec![Kind::Confidentiality], WHO),
    )
}

fn full() -> Breach {
    let mut b = bare();
    b.kinds.value.push(Kind::Availability);
    b.occurred = Some(Answer::person(
        Occurrence::Day {
            date: jiff::civil::date(2026, 3, 1),
        },
        WHO,
    ));
    b.contained_at = Some(Answer::person(ts("2026-03-02T15:00:00Z"), WHO));
    b.discovery = Some(Answer::person(
        "An alert of the intrusion detection system.".to_owned(),
        WHO,
    ));
    b.description = Some(Answer::person(
        "An attacker copied the customer table.".to_owned(),
        WHO,
    ));
    b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
    b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
    b.availability_loss = Some(Answer::person(
        AvailabilityLoss::Temporary {
            restored_within_hours: 6,
        },
        WHO,
    ));
    b.subjects = Some(Answer::person(
        Subjects {
            categories: vec!["customers".into()],
            vulnerable: vec![Vulnerable::Children],
        },
        WHO,
    ));
    b.data = Some(Answer::person(
        DataTypes {
            credentials: true,
            financial: true,
            categories: vec!["contact".into()],
            ..DataTypes::default()
        },
        WHO,
    ));
    b.subject_count = Some(Answer::custos(
        Count::Approximate { n: 1_200 },
        "vault: subjects with category contact",
    ));
    b.record_count = Some(Answer::custos(
        Count::Exact { n: 1_250 },
        "vault: records with category contact",
    ));
    b.measures_taken = Some(Answer::person(vec!["all passwords reset".into()], WHO));
    b.measures_proposed = Some(Answer::person(vec!["two-factor login".into()], WHO));
    b.consequences = Some(Answer::person(
        "Phishing in the name of the shop.".to_owned(),
        WHO,
    ));
    b.cross_border = Some(Answer::person(
        CrossBorder {
            member_states: vec!["BE".into()],
            other_authorities: vec![],
        },
        WHO,
    ));
    b
}

const CHAPTERS: [&str; 10] = [
    "introduction",
    "international",
    "controller",
    "timeline",
    "nature",
    "personal_data",
    "people",
    "prior_measures",
    "consequences",
    "follow_up",
];

#[test]
fn ap_draft_follows_the_forms_chapter_order() {
    let d = ap_notification(&bare(), &controller(), None, Lang::Nl);
    let ids: Vec<_> = d.chapters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CHAPTERS);
    assert!(
        d.chapters
            .iter()
            .all(|c| !c.title_nl.is_empty() && !c.title_en.is_empty())
    );
}

#[test]
fn every_unanswered_question_is_listed_as_missing() {
    let d = ap_notification(&bare(), &controller(), None, Lang::En);
    let unanswered: usize = d
        .chapters
        .iter()
        .flat_map(|c| &c.answers)
        .filter(|i| i.answer.is_none())
        .count();
    assert_eq!(d.missing.len(), unanswered);
    assert!(
        d.missing
            .contains(&"timeline: When did the breach occur?".to_owned())
    );
    assert!(
        d.missing
            .contains(&"people: How many people are affected?".to_owned())
    );
    assert!(d.missing.contains(
        &"follow_up: Have you informed the people affected, and if not, why not?".to_owned()
    ));
    let nl = ap_notification(&bare(), &controller(), None, Lang::Nl);
    assert!(
        nl.missing
            .contains(&"timeline: Wanneer vond het datalek plaats?".to_owned())
    );
}

#[test]
fn a_complete_record_leaves_nothing_missing() {
    let mut b = full();
    b.told.push(Told {
        party: Party::Subjects,
        at: ts("2026-03-03T10:00:00Z"),
        reference: None,
        source: Source::Person { actor: WHO.into() },
    });
    let d = ap_notification(&b, &controller(), None, Lang::Nl);
    assert_eq!(d.missing, Vec::<String>::new());
    let answer = |chapter: &str, en: &str| {
        d.chapters
            .iter()
            .find(|c| c.id == chapter)
            .and_then(|c| c.answers.iter().find(|i| i.question_en.starts_with(en)))
            .and_then(|i| i.answer.clone())
            .expect("answered")
    };
    assert_eq!(answer("introduction", "Your own reference"), "2026-007");
    assert_eq!(answer("international", "Are people in other"), "ja: BE");
    assert_eq!(
        answer("controller", "Contact point"),
        "FG <fg@voorbeeld.nl>, +31 20 123 4567"
    );
    assert_eq!(
        answer("timeline", "When did you become aware"),
        "2026-03-02 09:00 UTC"
    );
    assert_eq!(answer("people", "How many people"), "ongeveer 1200");
    assert_eq!(answer("people", "Are vulnerable"), "kinderen");
    assert_eq!(
        answer("prior_measures", "Is the loss"),
        "tijdelijk; hersteld binnen 6 uur"
    );
    assert_eq!(
        answer("follow_up", "Have you informed"),
        "ja, op 2026-03-03 10:00 UTC"
    );
}

#[test]
fn a_follow_up_names_the_notification_it_follows_and_a_late_one_its_delay() {
    let mut b = bare();
    b.notification = Notification::FollowUp {
        follows: Some(BreachId::new("2026-006").expect("valid id")),
    };
    b.delay_reason = Some(Answer::person(
        "The forensic report came in late.".to_owned(),
        WHO,
    ));
    let d = ap_notification(&b, &controller(), None, Lang::En);
    let intro = &d.chapters[0];
    assert_eq!(
        intro.answers[0].answer.as_deref(),
        Some("follow-up notification")
    );
    assert_eq!(intro.answers[2].answer.as_deref(), Some("2026-006"));
    assert!(
        d.chapters[3]
            .answers
            .iter()
            .any(|i| i.answer.as_deref() == Some("The forensic report came in late."))
    );
}

#[test]
fn the_decision_says_why_subjects_were_not_told() {
    let decision = Decision {
        notify_authority: true,
        notify_subjects: false,
        reasons: "no high risk: ordinary contact data of 40 people".into(),
        by: "j.jansen".into(),
        at: ts("2026-03-02T12:00:00Z"),
    };
    let d = ap_notification(&bare(), &controller(), Some(&decision), Lang::En);
    let follow_up = d.chapters.last().expect("chapters");
    assert_eq!(
        follow_up.answers[2].answer.as_deref(),
        Some("no: no high risk: ordinary contact data of 40 people")
    );
}

#[test]
fn the_letter_to_subjects_has_the_content_of_art_34_2_in_dutch() {
    let l = subject_letter(&full(), &controller(), Lang::Nl);
    assert_eq!(l.lang, Lang::Nl);
    assert_eq!(l.subject, "Datalek bij Voorbeeld B.V.: uw gegevens");
    let text = l.paragraphs.join("\n");
    assert!(
        text.contains("An attacker copied the customer table."),
        "what happened"
    );
    assert!(
        text.contains("inloggegevens") && text.contains("financiële gegevens"),
        "which data"
    );
    assert!(
        text.contains("Mogelijke gevolgen voor u: Phishing"),
        "consequences"
    );
    assert!(
        text.contains("all passwords reset; two-factor login"),
        "measures"
    );
    assert!(
        text.contains("Verander uw wachtwoord") && text.contains("bankafschriften"),
        "what to do"
    );
    assert!(text.contains("fg@voorbeeld.nl"), "contact point: the DPO");
}

#[test]
fn the_letter_to_subjects_in_english_uses_the_general_contact_without_a_dpo() {
    let mut c = controller();
    c.dpo = None;
    let l = subject_letter(&bare(), &c, Lang::En);
    assert_eq!(l.subject, "Data breach at Voorbeeld B.V.: your data");
    let text = l.paragraphs.join("\n");
    assert!(text.contains("Questions? Contact Servicedesk: info@voorbeeld.nl."));
    assert!(text.contains("What you can do: Be extra careful"));
}

#[test]
fn each_controller_gets_its_own_notice_with_its_own_counts() {
    let b = full();
    let tenants = [
        ControllerTenant {
            tenant: TenantId::new("acme").expect("valid tenant"),
            name: "Acme".into(),
            subject_count: Count::Exact { n: 700 },
            record_count: Count::Exact { n: 720 },
            lang: Lang::En,
        },
        ControllerTenant {
            tenant: TenantId::new("bakker").expect("valid tenant"),
            name: "Bakker".into(),
            subject_count: Count::Approximate { n: 500 },
            record_count: Count::Unknown,
            lang: Lang::Nl,
        },
    ];
    let notices = processor_notices(&b, &controller(), &tenants);
    assert_eq!(notices.len(), 2);
    let acme = notices[0].letter.paragraphs.join("\n");
    assert_eq!(notices[0].tenant.as_str(), "acme");
    assert!(acme.contains("Art. 33(2) GDPR") && acme.contains("2026-007"));
    assert!(acme.contains("Your data subjects affected: 700; records: 720."));
    assert!(!acme.contains("500"), "no controller sees another's counts");
    assert!(acme.contains("Likely consequences: Phishing"));
    assert!(acme.contains("Measures taken or proposed: all passwords reset; two-factor login."));
    assert!(acme.contains("Contact point at Voorbeeld B.V.: FG <fg@voorbeeld.nl>."));
    let bakker = notices[1].letter.paragraphs.join("\n");
    assert!(bakker.contains("Betrokkenen van u: ongeveer 500; records: onbekend."));
    assert!(
        notices[1]
            .letter
            .subject
            .starts_with("Melding inbreuk persoonsgegevens")
    );
}

#[test]
fn a_notice_without_consequences_or_measures_promises_a_follow_up() {
    let tenants = [ControllerTenant {
        tenant: TenantId::new("acme").expect("valid tenant"),
        name: "Acme".into(),
        subject_count: Count::Unknown,
        record_count: Count::Unknown,
        lang: Lang::En,
    }];
    let text = processor_notices(&bare(), &controller(), &tenants)[0]
        .letter
        .paragraphs
        .join("\n");
    assert!(text.contains("Likely consequences: still under investigation"));
    assert!(text.contains("Measures: still under investigation"));
}

#[test]
fn the_contact_point_is_the_dpo_when_appointed() {
    let mut c = controller();
    assert_eq!(c.contact_point().email, "fg@voorbeeld.nl");
    c.dpo = None;
    assert_eq!(c.contact_point().email, "info@voorbeeld.nl");
}
