//! The proposal tested against the worked cases of EDPB Guidelines 01/2021 on examples
//! regarding personal data breach notification (version 2.0, adopted 14 December 2021).
//!
//! Each case: the facts as the guideline gives them, in; the guideline's conclusion (notify the
//! authority? tell the people affected?), out. Where the conclusion was checked against the
//! guideline's own text the doc comment says so; where only against a published summary of it,
//! the doc comment names the summary. Cases 02, 07, 12, 17 and 18 are left out: their
//! conclusions could not be verified from a source available when this was written.

use super::*;
use crate::record::{
    Answer, AvailabilityLoss, BreachId, Count, DataTypes, Exfiltration, Kind, Recipient,
    RiskAssessment, Subjects, Unintelligibility, Vulnerable,
};
use crate::rules::{digital_omnibus, gdpr_2016};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

const WHO: &str = "privacy officer";

/// A breach of `kinds` with everything else open.
fn breach(kinds: &[Kind]) -> Breach {
    Breach::new(
        BreachId::new("case").expect("valid id"),
        Answer::person(ts("2026-03-02T09:00:00Z"), WHO),
        Answer::person(kinds.to_vec(), WHO),
    )
}

fn with(mut b: Breach, f: impl FnOnce(&mut Breach)) -> Breach {
    f(&mut b);
    b
}

fn count(b: &mut Breach, n: u64) {
    b.subject_count = Some(Answer::person(Count::Approximate { n }, WHO));
}

fn data(b: &mut Breach, d: DataTypes) {
    b.data = Some(Answer::person(d, WHO));
}

fn ordinary(categories: &[&str]) -> DataTypes {
    DataTypes {
        categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        ..DataTypes::default()
    }
}

fn subjects(b: &mut Breach, categories: &[&str], vulnerable: &[Vulnerable]) {
    b.subjects = Some(Answer::person(
        Subjects {
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            vulnerable: vulnerable.to_vec(),
        },
        WHO,
    ));
}

fn gdpr(b: &Breach) -> Proposal {
    propose(b, &gdpr_2016(), &Settings::default())
}

fn outcome(p: &Proposal) -> (bool, bool) {
    (p.notify_authority, p.notify_subjects())
}

/// Case 01: ransomware with proper backup and without exfiltration. A small manufacturing
/// company; data encrypted at rest with the key safe; logs show no outward data flow; a few
/// dozen clients and employees; restored from backup a few hours after the attack.
/// Conclusion (¶25, checked against the guideline's text): "the breach was unlikely to result
/// in a risk … hence no communication to the data subjects is necessary, nor does the breach
/// require a notification to the SA" — documented under Art. 33(5) only.
#[test]
fn case_01_ransomware_with_backup_and_no_exfiltration_needs_no_notification() {
    let b = with(breach(&[Kind::Confidentiality, Kind::Availability]), |b| {
        b.unintelligible = Some(Answer::person(Unintelligibility::EncryptedKeySafe, WHO));
        b.exfiltration = Some(Answer::person(
            Exfiltration::No {
                evidence: "logs of all outbound data flows show none during the attack".into(),
            },
            WHO,
        ));
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.availability_loss = Some(Answer::person(
            AvailabilityLoss::Temporary {
                restored_within_hours: 4,
            },
            WHO,
        ));
        subjects(b, &["clients", "employees"], &[]);
        count(b, 40);
        data(b, ordinary(&["contact", "payroll"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::NoRisk);
    assert_eq!(outcome(&p), (false, false));
    assert_eq!(p.subjects, SubjectsAction::NotRequired);
    assert!(p.reasons.iter().any(|r| r.cites.contains("Art. 34(3)(a)")));
    assert!(p.reasons.iter().any(|r| r.cites.contains("Art. 33(5)")));
}

/// Case 03: ransomware with backup and without exfiltration in a hospital. No exfiltration
/// established, but restoring took a couple of days, delaying patients' treatment.
/// Conclusion (checked against a summary of the guideline, Baker McKenzie Global Litigation
/// News, 4 February 2021): "an example of a ransomware attack with high risk to the rights and
/// freedoms of individuals" — notify the SA and the patients.
#[test]
fn case_03_hospital_ransomware_with_slow_restore_needs_authority_and_patients_told() {
    let b = with(breach(&[Kind::Availability]), |b| {
        b.exfiltration = Some(Answer::person(
            Exfiltration::No {
                evidence: "forensic investigation found encryption only".into(),
            },
            WHO,
        ));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        b.availability_loss = Some(Answer::person(
            AvailabilityLoss::Temporary {
                restored_within_hours: 48,
            },
            WHO,
        ));
        subjects(b, &["patients"], &[Vulnerable::Patients]);
        count(b, 1_800);
        data(
            b,
            DataTypes {
                special_categories: true,
                ..ordinary(&["medical record"])
            },
        );
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::HighRisk);
    assert_eq!(outcome(&p), (true, true));
    assert!(p.reasons.iter().any(|r| r.cites.contains("case 03")));
}

/// Case 04: ransomware without backup and with exfiltration. Data encrypted by the attacker
/// and copied out; no backup to restore from.
/// Conclusion (checked against a summary of the guideline, Greenberg Traurig Data Privacy Dish,
/// February 2021): reporting "to both the supervisory authorities and the data subjects would be
/// required" where data "has been likely exfiltrated from the network".
#[test]
fn case_04_ransomware_without_backup_and_with_exfiltration_needs_both() {
    let b = with(breach(&[Kind::Confidentiality, Kind::Availability]), |b| {
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        b.availability_loss = Some(Answer::person(AvailabilityLoss::Permanent, WHO));
        subjects(b, &["customers"], &[]);
        count(b, 3_000);
        data(b, ordinary(&["contact", "travel"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::HighRisk);
    assert_eq!(outcome(&p), (true, true));
}

/// Case 05: exfiltration of job application data from a website. Malicious code on the
/// recruitment website copied the applications submitted through it. The summary gives no
/// number of applicants, so none is recorded.
/// Conclusion (checked against a summary of the guideline, Greenberg Traurig Data Privacy Dish /
/// National Law Review, February 2021): notification "to both the supervisory authorities and
/// the data subjects would be required" when the exposed volume of data exposes people to risks
/// such as unsolicited marketing.
#[test]
fn case_05_exfiltration_of_job_applications_needs_both() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["job applicants"], &[]);
        b.subject_count = Some(Answer::person(Count::Unknown, WHO));
        data(b, ordinary(&["contact", "cv"]));
    });
    let p = gdpr(&b);
    assert_eq!(outcome(&p), (true, true));
}

/// Case 06: exfiltration of hashed passwords from a website, hashed and salted with a
/// state-of-the-art algorithm.
/// Conclusion (checked against a summary of the guideline, Greenberg Traurig Data Privacy Dish /
/// National Law Review, February 2021): notifying the data subjects "would not be required if
/// the salted hash was done using a state-of-the-art algorithm". Only that half is asserted: the
/// authority half could not be verified.
#[test]
fn case_06_exfiltration_of_salted_hashes_needs_no_communication_to_subjects() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::EncryptedKeySafe, WHO));
        subjects(b, &["website users"], &[]);
        count(b, 1_200);
        data(
            b,
            DataTypes {
                credentials: true,
                ..ordinary(&["account"])
            },
        );
    });
    assert!(!gdpr(&b).notify_subjects());
}

/// Case 08: exfiltration of business data by an employee, who during his notice period copied
/// the customers' basic contact data and later used it to court them for his own business.
/// Conclusion (checked against a summary of the version 2.0 text, hrlaw.pl, 8 January 2024):
/// the controller "is not in a position to consider the risk for the affected data subjects to
/// be low" — notify the SA and document; communication to the data subjects is not among the
/// obligations.
#[test]
fn case_08_former_employee_copying_customer_contacts_needs_authority_only() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.recipient = Some(Answer::person(Recipient::Identified, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["customers"], &[]);
        count(b, 2_000);
        data(b, ordinary(&["contact"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::Risk);
    assert_eq!(outcome(&p), (true, false));
}

/// Case 09: accidental transmission of data to a trusted third party (a customer list e-mailed
/// to a business partner bound to confidentiality, who deleted it).
/// Conclusion (checked against a summary of the guideline, ije.be partner blog "Examples of
/// when to notify data breaches"): notify the DPA "No", inform the data subjects "No", if the
/// recipient is bound to confidentiality, deletion or return was ensured, and no sensitive data
/// was sent.
#[test]
fn case_09_data_sent_to_a_trusted_third_party_needs_no_notification() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(
            Recipient::Trusted {
                deletion_confirmed: true,
            },
            WHO,
        ));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["customers"], &[]);
        count(b, 300);
        data(b, ordinary(&["contact", "order"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::NoRisk);
    assert_eq!(outcome(&p), (false, false));
}

/// Case 10: stolen material storing encrypted personal data (devices with strong encryption,
/// data restorable from backup).
/// Conclusion (checked against a summary of the guideline, National Law Review, "Does a company
/// need to report a lost or stolen laptop under GDPR?"): "strong encryption would permit a
/// controller to avoid notification, although the event should be internally documented".
#[test]
fn case_10_stolen_encrypted_devices_need_no_notification() {
    let b = with(breach(&[Kind::Confidentiality, Kind::Availability]), |b| {
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::EncryptedKeySafe, WHO));
        b.availability_loss = Some(Answer::person(
            AvailabilityLoss::Temporary {
                restored_within_hours: 8,
            },
            WHO,
        ));
        subjects(b, &["clients"], &[]);
        count(b, 500);
        data(b, ordinary(&["contact"]));
    });
    assert_eq!(outcome(&gdpr(&b)), (false, false));
}

/// Case 11: stolen material storing non-encrypted personal data: a notebook without password
/// or encryption with names, sex, addresses and dates of birth of more than 100,000 customers;
/// restorable from daily backups.
/// Conclusion (checked against a summary of the version 2.0 text, hrlaw.pl, 16 January 2024):
/// the risk "was high", so the controller "must notify the infringement to the supervisory
/// authority, inform the data subjects affected by the breach, and internally document" it.
#[test]
fn case_11_stolen_unencrypted_notebook_with_many_customers_needs_both() {
    let b = with(breach(&[Kind::Confidentiality, Kind::Availability]), |b| {
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        b.availability_loss = Some(Answer::person(
            AvailabilityLoss::Temporary {
                restored_within_hours: 24,
            },
            WHO,
        ));
        subjects(b, &["customers"], &[]);
        count(b, 100_000);
        data(b, ordinary(&["name", "sex", "address", "date of birth"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::HighRisk);
    assert_eq!(outcome(&p), (true, true));
}

/// Case 13: postal mail mistake: a webshop packs two orders with each other's packing bills
/// (names, addresses, items bought).
/// Conclusion (checked against a summary of the guideline, ije.be partner blog): notify the
/// DPA "No", inform the data subjects "No"; ask the wrong recipient to delete the data.
#[test]
fn case_13_two_orders_swapped_need_no_notification() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(Recipient::Mistaken { per_subject: 1 }, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["customers"], &[]);
        b.subject_count = Some(Answer::person(Count::Exact { n: 2 }, WHO));
        data(b, ordinary(&["contact", "order"]));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::NoRisk);
    assert_eq!(outcome(&p), (false, false));
}

/// Case 14: highly confidential personal data sent by mail by mistake.
/// Conclusion (checked against a summary of the guideline, ije.be partner blog): "Sensitive
/// personal data sent by e-mail by mistake": notify the DPA "Yes", inform the data subjects
/// "Yes".
#[test]
fn case_14_sensitive_data_mailed_to_the_wrong_recipients_needs_both() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(Recipient::Mistaken { per_subject: 15 }, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["job seekers"], &[]);
        count(b, 60);
        data(
            b,
            DataTypes {
                special_categories: true,
                national_id: true,
                ..ordinary(&["contact"])
            },
        );
    });
    assert_eq!(outcome(&gdpr(&b)), (true, true));
}

/// An e-mail with a whole distribution list of 1 500 subscribers in an open `cc` instead of
/// `bcc`. Written after EDPB case 15 ("personal data sent by mail by mistake"), but the
/// guideline's own text of that case could not be read when this was written and two published
/// summaries disagree on its conclusion (one: notify the DPA and the people when there are many
/// recipients or sensitive data; another: internal documentation only). So this test claims no
/// case number: it checks Custos's own reading (Art. 33(1), 34(1): many strangers now hold
/// every address, a phishing risk) until someone checks case 15 against the guideline.
#[test]
fn an_open_cc_list_to_many_recipients_needs_both() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(
            Recipient::Mistaken { per_subject: 1_500 },
            WHO,
        ));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["newsletter subscribers"], &[]);
        count(b, 1_500);
        data(b, ordinary(&["e-mail address"]));
    });
    assert_eq!(outcome(&gdpr(&b)), (true, true));
}

/// Case 16: postal mail mistake: an insurer's motor insurance letters sent to the wrong
/// policyholders.
/// Conclusion (checked against a summary of the guideline, ije.be partner blog): "Postal
/// dispatch error of motor insurance policy": notify the DPA "Yes", inform the data subjects
/// "No" if no sensitive data; the wrong recipients are asked to destroy or return the letters.
#[test]
fn case_16_insurance_letters_to_the_wrong_customers_need_authority_only() {
    let b = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(Recipient::Mistaken { per_subject: 1 }, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        subjects(b, &["policyholders"], &[]);
        count(b, 150);
        data(
            b,
            ordinary(&["contact", "licence plate", "insurance policy"]),
        );
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::Risk);
    assert_eq!(outcome(&p), (true, false));
}

// ---- the rules, the exemptions and the decision --------------------------------------------

fn high_risk_breach() -> Breach {
    with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(Recipient::Unknown, WHO));
        b.exfiltration = Some(Answer::person(Exfiltration::Yes, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        count(b, 40);
        data(
            b,
            DataTypes {
                credentials: true,
                ..ordinary(&["account"])
            },
        );
    })
}

#[test]
fn under_the_omnibus_only_a_high_risk_is_notified_to_the_authority() {
    let omnibus = digital_omnibus(jiff::civil::date(2027, 1, 1));
    let risk_only = with(breach(&[Kind::Confidentiality]), |b| {
        b.recipient = Some(Answer::person(Recipient::Identified, WHO));
        b.unintelligible = Some(Answer::person(Unintelligibility::NotEncrypted, WHO));
        count(b, 30);
    });
    assert!(gdpr(&risk_only).notify_authority);
    assert!(!propose(&risk_only, &omnibus, &Settings::default()).notify_authority);
    let p = propose(&high_risk_breach(), &omnibus, &Settings::default());
    assert!(p.notify_authority);
    assert_eq!(p.rules, "digital-omnibus");
    assert!(
        p.reasons
            .iter()
            .any(|r| r.text.contains("96 hours") && r.text.contains("single EU entry point"))
    );
}

#[test]
fn subsequent_measures_exempt_the_communication_under_art_34_3_b() {
    let b = with(high_risk_breach(), |b| {
        b.high_risk_neutralised = Some(Answer::person(
            "every password was reset before any login with it".to_owned(),
            WHO,
        ));
    });
    let p = gdpr(&b);
    assert_eq!(p.risk, Risk::HighRisk);
    assert_eq!(
        p.subjects,
        SubjectsAction::Exempt {
            exemption: "Art. 34(3)(b)".into()
        }
    );
    assert!(
        p.notify_authority,
        "the exemption concerns the subjects only"
    );
}

#[test]
fn disproportionate_effort_turns_the_communication_public_under_art_34_3_c() {
    let b = with(high_risk_breach(), |b| {
        b.disproportionate_effort = Some(Answer::person(
            "no contact details are kept".to_owned(),
            WHO,
        ));
    });
    let p = gdpr(&b);
    assert_eq!(p.subjects, SubjectsAction::PublicCommunication);
    assert!(p.notify_subjects());
    assert!(p.reasons.iter().any(|r| r.cites == "Art. 34(3)(c) GDPR"));
}

#[test]
fn a_dutch_financial_undertaking_is_exempt_from_art_34_under_uavg_art_42() {
    let p = propose(
        &high_risk_breach(),
        &gdpr_2016(),
        &Settings {
            uavg_art42_financial_undertaking: true,
        },
    );
    assert_eq!(
        p.subjects,
        SubjectsAction::Exempt {
            exemption: "UAVG art. 42".into()
        }
    );
    assert!(p.notify_authority);
}

#[test]
fn unknown_facts_are_assumed_against_the_subjects_and_asked_for() {
    let p = gdpr(&breach(&[
        Kind::Confidentiality,
        Kind::Availability,
        Kind::Integrity,
    ]));
    assert_eq!(p.risk, Risk::Risk);
    assert!(p.notify_authority);
    assert!(p.open_questions.iter().any(|q| q.contains("encrypted")));
    assert!(
        p.open_questions
            .iter()
            .any(|q| q.contains("Who could read"))
    );
    assert!(p.open_questions.iter().any(|q| q.contains("restored")));
}

#[test]
fn every_reason_cites_an_article_or_guideline() {
    for b in [
        high_risk_breach(),
        breach(&[Kind::Integrity, Kind::Availability]),
    ] {
        for r in gdpr(&b).reasons {
            assert!(
                r.cites.contains("Art") || r.cites.contains("EDPB") || r.cites.contains("UAVG"),
                "{r:?}"
            );
        }
    }
}

#[test]
fn a_recorded_assessment_that_differs_is_pointed_out() {
    let b = with(high_risk_breach(), |b| {
        b.risk = Some(Answer::person(
            RiskAssessment {
                outcome: Risk::NoRisk,
                reasoning: "only test accounts".into(),
            },
            WHO,
        ));
    });
    assert!(
        gdpr(&b)
            .reasons
            .iter()
            .any(|r| r.text.contains("recorded assessment says no risk"))
    );
}

#[test]
fn a_decision_needs_a_person_reasons_and_a_time_after_awareness() {
    let b = high_risk_breach();
    let p = gdpr(&b);
    let ok = Decision {
        notify_authority: true,
        notify_subjects: true,
        reasons: "as proposed".into(),
        by: "j.jansen".into(),
        at: ts("2026-03-02T12:00:00Z"),
    };
    assert_eq!(ok.check(&b, &p), Ok(()));
    let field = |d: Decision| match d.check(&b, &p) {
        Err(Error::Decision { field, .. }) => field,
        other => panic!("expected a decision error, got {other:?}"),
    };
    assert_eq!(
        field(Decision {
            by: " ".into(),
            ..ok.clone()
        }),
        "by"
    );
    assert_eq!(
        field(Decision {
            reasons: String::new(),
            ..ok.clone()
        }),
        "reasons"
    );
    assert_eq!(
        field(Decision {
            at: ts("2026-03-01T12:00:00Z"),
            ..ok.clone()
        }),
        "at"
    );
    assert_eq!(
        field(Decision {
            notify_subjects: false,
            ..ok.clone()
        }),
        "reasons"
    );
    let departs = Decision {
        notify_subjects: false,
        reasons: "the accounts were test accounts without real people behind them".into(),
        ..ok
    };
    assert_eq!(
        departs.check(&b, &p),
        Ok(()),
        "a person may depart from the proposal, with reasons"
    );
}
