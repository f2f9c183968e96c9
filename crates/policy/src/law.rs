//! Facts of law the checker and renderer need: the EEA, the Art. 45 adequacy list, every EEA
//! supervisory authority (`data/authorities.rs`), the articles behind each legal basis, the
//! dates from which transfer mechanisms hold or fail, national laws, and when a cookie needs
//! consent.
//!
//! Sources: Art. 45 adequacy decisions as listed by the CNPD and the Commission (see
//! `shared/reference/gdpr-and-interop.md` §1.13): Andorra, Argentina, Brazil (2026/179), Canada
//! (PIPEDA), Faroe Islands, Guernsey, Israel, Isle of Man, Japan, Jersey, New Zealand, Republic
//! of Korea, Switzerland, United Kingdom (renewed to 27 Dec 2031), Uruguay, and the United
//! States for DPF-certified organisations only (Decision (EU) 2023/1795).

use crate::model::{Basis, CookieType, Mechanism, SpecialCondition};
use crate::text::Lang;

/// EU member states plus Iceland, Liechtenstein and Norway: no transfer rules apply between them.
pub const EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// Countries with an Art. 45 adequacy decision in force (the US only through the DPF).
pub const ADEQUATE: &[&str] = &[
    "AD", "AR", "BR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY",
];

/// ISO 3166-1 alpha-2 codes, for validating `locations`.
const ISO_3166: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Where a location code stands legally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Inside the EEA (including the pseudo-codes `EU` and `EEA`).
    Eea,
    /// A third country with an adequacy decision.
    Adequate,
    /// The United States: adequate only for DPF-certified recipients.
    UnitedStates,
    /// Any other third country.
    ThirdCountry,
}

/// Classifies a location code (`EU`, `EEA` or ISO 3166-1 alpha-2). `None` for an unknown code.
pub fn zone(code: &str) -> Option<Zone> {
    match code {
        "EU" | "EEA" => Some(Zone::Eea),
        "US" => Some(Zone::UnitedStates),
        c if EEA.contains(&c) => Some(Zone::Eea),
        c if ADEQUATE.contains(&c) => Some(Zone::Adequate),
        c if ISO_3166.split(' ').any(|k| k == c) => Some(Zone::ThirdCountry),
        _ => None,
    }
}

/// All valid location codes, for suggestions.
pub fn location_codes() -> impl Iterator<Item = &'static str> {
    ["EU", "EEA"].into_iter().chain(ISO_3166.split(' '))
}

/// Whether `mechanism` can lawfully cover a transfer to a country in `zone` (Art. 44–49).
pub fn mechanism_covers(mechanism: Mechanism, zone: Zone) -> bool {
    match (mechanism, zone) {
        (_, Zone::Eea) => true,
        (Mechanism::None, _) => false,
        (Mechanism::Adequacy, Zone::Adequate) => true,
        (Mechanism::Adequacy, _) => false,
        (Mechanism::Dpf, Zone::UnitedStates) => true,
        (Mechanism::Dpf, _) => false,
        // Privacy Shield only ever covered the US; whether it is still valid is a question of
        // date, which `mechanism_validity` answers (rule C141), so it is not reported twice.
        (Mechanism::PrivacyShield, Zone::UnitedStates) => true,
        (Mechanism::PrivacyShield, _) => false,
        (_, _) => true,
    }
}

/// A supervisory authority Custos knows by id.
#[derive(Debug, Clone, Copy)]
pub struct Authority {
    /// Id used in policies, e.g. `nl-ap`, `de-by-lda`.
    pub id: &'static str,
    /// Country (ISO 3166-1 alpha-2).
    pub country: &'static str,
    /// For a German Land authority, the Land (ISO 3166-2 subdivision code without `DE-`).
    pub region: Option<&'static str>,
    /// The name in the authority's own language.
    pub name_local: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Dutch name.
    pub name_nl: &'static str,
    /// Postal address, where verified; `None` means not verified (not "has none").
    pub address: Option<&'static str>,
    /// Website.
    pub url: &'static str,
    /// W3C DPV IRI where one exists.
    pub dpv: Option<&'static str>,
}

impl Authority {
    /// The name in `lang`.
    pub fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.name_en,
            Lang::Nl => self.name_nl,
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn a(
    id: &'static str,
    country: &'static str,
    region: Option<&'static str>,
    name_local: &'static str,
    name_en: &'static str,
    name_nl: &'static str,
    address: Option<&'static str>,
    url: &'static str,
) -> Authority {
    Authority {
        id,
        country,
        region,
        name_local,
        name_en,
        name_nl,
        address,
        url,
        dpv: None,
    }
}

include!("../data/authorities.rs");

/// The authorities Art. 77(1) lets a person complain to without naming one: the statement may
/// say "any supervisory authority" or "the authority where you live".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintScope {
    /// Any supervisory authority.
    Any,
    /// The authority of the Member State of the person's habitual residence (Art. 77(1)).
    HabitualResidence,
    /// The authority of the Member State of the person's place of work (Art. 77(1)).
    PlaceOfWork,
    /// The authority of the Member State of the alleged infringement (Art. 77(1)).
    PlaceOfInfringement,
}

impl ComplaintScope {
    /// Every scope with the word a policy writes for it.
    pub const ALL: [(&'static str, ComplaintScope); 4] = [
        ("any", ComplaintScope::Any),
        ("habitual_residence", ComplaintScope::HabitualResidence),
        ("place_of_work", ComplaintScope::PlaceOfWork),
        ("place_of_infringement", ComplaintScope::PlaceOfInfringement),
    ];

    /// Parses the word a policy writes in `rights.complaint`.
    pub fn parse(s: &str) -> Option<ComplaintScope> {
        Self::ALL.iter().find(|(k, _)| *k == s).map(|(_, v)| *v)
    }
}

/// Looks up an authority by id.
pub fn authority(id: &str) -> Option<&'static Authority> {
    AUTHORITIES.iter().find(|a| a.id == id)
}

/// The Art. 6(1) point for a legal basis, e.g. `6(1)(b)`.
pub fn basis_article(basis: Basis) -> &'static str {
    match basis {
        Basis::Consent => "6(1)(a)",
        Basis::Contract => "6(1)(b)",
        Basis::LegalObligation => "6(1)(c)",
        Basis::VitalInterests => "6(1)(d)",
        Basis::PublicTask => "6(1)(e)",
        Basis::LegitimateInterest => "6(1)(f)",
    }
}

/// The Art. 9(2) point for a condition, e.g. `9(2)(a)`.
pub fn special_condition_article(c: SpecialCondition) -> &'static str {
    match c {
        SpecialCondition::ExplicitConsent => "9(2)(a)",
        SpecialCondition::EmploymentAndSocialSecurity => "9(2)(b)",
        SpecialCondition::VitalInterests => "9(2)(c)",
        SpecialCondition::NotForProfitBody => "9(2)(d)",
        SpecialCondition::ManifestlyMadePublic => "9(2)(e)",
        SpecialCondition::LegalClaims => "9(2)(f)",
        SpecialCondition::SubstantialPublicInterest => "9(2)(g)",
        SpecialCondition::HealthOrSocialCare => "9(2)(h)",
        SpecialCondition::PublicHealth => "9(2)(i)",
        SpecialCondition::ArchivingResearchStatistics => "9(2)(j)",
    }
}

/// The GDPR article behind a transfer mechanism.
pub fn mechanism_article(m: Mechanism) -> &'static str {
    match m {
        Mechanism::None => "—",
        Mechanism::Adequacy => "45",
        Mechanism::Dpf => "45 (Decision (EU) 2023/1795)",
        Mechanism::Scc => "46(2)(c) (Decision (EU) 2021/914)",
        Mechanism::Bcr => "46(2)(b), 47",
        Mechanism::CodeOfConduct => "46(2)(e)",
        Mechanism::Certification => "46(2)(f)",
        Mechanism::AdHocClauses => "46(3)(a)",
        Mechanism::Derogation => "49(1)",
        Mechanism::PrivacyShield => "45 (Decision 2016/1250, invalid since CJEU C-311/18)",
        Mechanism::Scc2010 => "46(2)(c) (Decision 2010/87/EU, repealed by Decision (EU) 2021/914)",
    }
}

/// Whether a transfer mechanism can be relied on on a given date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    /// In force on that date.
    Valid,
    /// Still usable on that date only for contracts concluded before a cut-off.
    Transitional {
        /// What holds until when, and on what authority.
        why: &'static str,
    },
    /// Not (or no longer, or not yet) a lawful basis for transfers on that date.
    Invalid {
        /// Since when and why.
        why: &'static str,
    },
}

/// Whether `m` was a lawful transfer mechanism on `on` (the statement's date). Without a date
/// the law as it stands now applies.
///
/// - Privacy Shield (Decision 2016/1250): invalidated by CJEU C-311/18 *Schrems II*, 16 July
///   2020, with immediate effect.
/// - The old standard clauses (Decision 2010/87/EU, and 2001/497/EC, 2004/915/EC): repealed by
///   Decision (EU) 2021/914 with effect from 27 September 2021; contracts concluded before that
///   date could rely on them until 27 December 2022 (Art. 4 of Decision 2021/914).
/// - The 2021 clauses (Decision (EU) 2021/914): in force from 27 June 2021.
/// - The EU-US Data Privacy Framework (Decision (EU) 2023/1795): adopted 10 July 2023.
pub fn mechanism_validity(m: Mechanism, on: Option<jiff::civil::Date>) -> Validity {
    use jiff::civil::date;
    let before = |d: jiff::civil::Date| on.is_some_and(|o| o < d);
    match m {
        Mechanism::PrivacyShield if before(date(2020, 7, 16)) => Validity::Valid,
        Mechanism::PrivacyShield => Validity::Invalid {
            why: "the EU-US Privacy Shield was declared invalid by the CJEU in C-311/18 (Schrems II) on 16 July 2020",
        },
        Mechanism::Scc2010 if before(date(2021, 9, 27)) => Validity::Valid,
        Mechanism::Scc2010 if before(date(2022, 12, 28)) => Validity::Transitional {
            why: "the 2010/87/EU clauses were repealed by Decision (EU) 2021/914 from 27 September 2021; only contracts concluded before that date could use them, until 27 December 2022",
        },
        Mechanism::Scc2010 => Validity::Invalid {
            why: "the 2010/87/EU clauses were repealed by Decision (EU) 2021/914 and could be used, for contracts concluded before 27 September 2021, only until 27 December 2022",
        },
        Mechanism::Scc if before(date(2021, 6, 27)) => Validity::Invalid {
            why: "the 2021/914 clauses entered into force on 27 June 2021, after the statement's date",
        },
        Mechanism::Dpf if before(date(2023, 7, 10)) => Validity::Invalid {
            why: "the EU-US Data Privacy Framework (Decision (EU) 2023/1795) was adopted on 10 July 2023, after the statement's date",
        },
        _ => Validity::Valid,
    }
}

/// A national law Custos knows by id, for `[[law]]` references.
#[derive(Debug, Clone, Copy)]
pub struct NationalLaw {
    /// Id used in policies.
    pub id: &'static str,
    /// Country.
    pub country: &'static str,
    /// Short name and full title.
    pub name: &'static str,
    /// When its privacy provisions were replaced or renamed: (date, what replaced it).
    pub superseded: Option<(jiff::civil::Date, &'static str)>,
}

/// National laws that implement or sit beside the GDPR and the ePrivacy Directive.
pub const NATIONAL_LAWS: &[NationalLaw] = &[
    NationalLaw {
        id: "uavg",
        country: "NL",
        name: "Uitvoeringswet Algemene verordening gegevensbescherming (UAVG)",
        superseded: None,
    },
    NationalLaw {
        id: "telecommunicatiewet",
        country: "NL",
        name: "Telecommunicatiewet (art. 11.7a: cookies)",
        superseded: None,
    },
    NationalLaw {
        id: "awr",
        country: "NL",
        name: "Algemene wet inzake rijksbelastingen (AWR, art. 52: fiscal retention)",
        superseded: None,
    },
    NationalLaw {
        id: "bdsg",
        country: "DE",
        name: "Bundesdatenschutzgesetz (BDSG)",
        superseded: None,
    },
    NationalLaw {
        id: "tmg",
        country: "DE",
        name: "Telemediengesetz (TMG)",
        superseded: Some((
            jiff::civil::date(2021, 12, 1),
            "its data-protection provisions were replaced by the TTDSG on 1 December 2021",
        )),
    },
    NationalLaw {
        id: "ttdsg",
        country: "DE",
        name: "Telekommunikation-Telemedien-Datenschutz-Gesetz (TTDSG)",
        superseded: Some((
            jiff::civil::date(2024, 5, 14),
            "it was renamed Telekommunikation-Digitale-Dienste-Datenschutz-Gesetz (TDDDG) on 14 May 2024",
        )),
    },
    NationalLaw {
        id: "tdddg",
        country: "DE",
        name: "Telekommunikation-Digitale-Dienste-Datenschutz-Gesetz (TDDDG, § 25: cookies)",
        superseded: None,
    },
    NationalLaw {
        id: "be-wet-2018",
        country: "BE",
        name: "Wet van 30 juli 2018 betreffende de bescherming van natuurlijke personen met betrekking tot de verwerking van persoonsgegevens",
        superseded: None,
    },
    NationalLaw {
        id: "dsg-at",
        country: "AT",
        name: "Datenschutzgesetz (DSG, Austria)",
        superseded: None,
    },
    NationalLaw {
        id: "lopdgdd",
        country: "ES",
        name: "Ley Orgánica 3/2018 de Protección de Datos Personales y garantía de los derechos digitales (LOPDGDD)",
        superseded: None,
    },
    NationalLaw {
        id: "loi-informatique-libertes",
        country: "FR",
        name: "Loi n° 78-17 du 6 janvier 1978 relative à l'informatique, aux fichiers et aux libertés",
        superseded: None,
    },
    NationalLaw {
        id: "ie-dpa-2018",
        country: "IE",
        name: "Data Protection Act 2018 (Ireland)",
        superseded: None,
    },
];

/// Looks up a national law by id.
pub fn national_law(id: &str) -> Option<&'static NationalLaw> {
    NATIONAL_LAWS.iter().find(|l| l.id == id)
}

/// Whether setting or reading a cookie (or similar) of `kind` needs the user's prior consent
/// (ePrivacy Directive Art. 5(3)): everything but what is strictly necessary for the service
/// the user asked for, except, under Dutch law (Telecommunicatiewet art. 11.7a(3)(b)),
/// analytics that has little or no impact on privacy.
pub fn cookie_needs_consent(kind: CookieType, minimal_impact: bool, dutch_rules: bool) -> bool {
    match kind {
        CookieType::StrictlyNecessary => false,
        CookieType::Analytics if minimal_impact && dutch_rules => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eea_adequate_us_and_third_countries_are_told_apart() {
        assert_eq!(zone("NL"), Some(Zone::Eea));
        assert_eq!(zone("NO"), Some(Zone::Eea));
        assert_eq!(zone("EU"), Some(Zone::Eea));
        assert_eq!(zone("GB"), Some(Zone::Adequate));
        assert_eq!(zone("BR"), Some(Zone::Adequate));
        assert_eq!(zone("US"), Some(Zone::UnitedStates));
        assert_eq!(zone("IN"), Some(Zone::ThirdCountry));
        assert_eq!(zone("XX"), None);
    }

    #[test]
    fn dpf_covers_only_the_united_states_and_adequacy_only_adequate_countries() {
        assert!(mechanism_covers(Mechanism::Dpf, Zone::UnitedStates));
        assert!(!mechanism_covers(Mechanism::Dpf, Zone::ThirdCountry));
        assert!(!mechanism_covers(Mechanism::Dpf, Zone::Adequate));
        assert!(mechanism_covers(Mechanism::Adequacy, Zone::Adequate));
        assert!(!mechanism_covers(Mechanism::Adequacy, Zone::UnitedStates));
        assert!(mechanism_covers(Mechanism::Scc, Zone::ThirdCountry));
        assert!(!mechanism_covers(Mechanism::None, Zone::UnitedStates));
    }
}
