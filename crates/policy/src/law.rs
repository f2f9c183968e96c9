//! Facts of law the checker and renderer need: the EEA, the Art. 45 adequacy list, the
//! supervisory authorities Custos knows by id, and the articles behind each legal basis.
//!
//! Sources: Art. 45 adequacy decisions as listed by the CNPD and the Commission (see
//! `shared/reference/gdpr-and-interop.md` §1.13): Andorra, Argentina, Brazil (2026/179), Canada
//! (PIPEDA), Faroe Islands, Guernsey, Israel, Isle of Man, Japan, Jersey, New Zealand, Republic
//! of Korea, Switzerland, United Kingdom (renewed to 27 Dec 2031), Uruguay, and the United
//! States for DPF-certified organisations only (Decision (EU) 2023/1795).

use crate::model::{Basis, Mechanism, SpecialCondition};
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
        (_, _) => true,
    }
}

/// A supervisory authority Custos knows by id.
#[derive(Debug, Clone, Copy)]
pub struct Authority {
    /// Id used in policies, e.g. `nl-ap`.
    pub id: &'static str,
    /// Country.
    pub country: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Dutch name.
    pub name_nl: &'static str,
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

/// The authorities Custos knows.
pub const AUTHORITIES: &[Authority] = &[
    Authority {
        id: "nl-ap",
        country: "NL",
        name_en: "Dutch Data Protection Authority (Autoriteit Persoonsgegevens)",
        name_nl: "Autoriteit Persoonsgegevens",
        url: "https://autoriteitpersoonsgegevens.nl",
        dpv: Some("https://w3id.org/dpv/legal/nl#DPA-NL"),
    },
    Authority {
        id: "be-gba",
        country: "BE",
        name_en: "Belgian Data Protection Authority (Gegevensbeschermingsautoriteit)",
        name_nl: "Gegevensbeschermingsautoriteit (België)",
        url: "https://www.gegevensbeschermingsautoriteit.be",
        dpv: None,
    },
    Authority {
        id: "ie-dpc",
        country: "IE",
        name_en: "Data Protection Commission (Ireland)",
        name_nl: "Data Protection Commission (Ierland)",
        url: "https://www.dataprotection.ie",
        dpv: None,
    },
    Authority {
        id: "de-bfdi",
        country: "DE",
        name_en: "Federal Commissioner for Data Protection and Freedom of Information (Germany)",
        name_nl: "Bundesbeauftragte für den Datenschutz und die Informationsfreiheit (Duitsland)",
        url: "https://www.bfdi.bund.de",
        dpv: None,
    },
    Authority {
        id: "fr-cnil",
        country: "FR",
        name_en: "Commission nationale de l'informatique et des libertés (France)",
        name_nl: "Commission nationale de l'informatique et des libertés (Frankrijk)",
        url: "https://www.cnil.fr",
        dpv: None,
    },
    Authority {
        id: "lu-cnpd",
        country: "LU",
        name_en: "National Commission for Data Protection (Luxembourg)",
        name_nl: "Commission nationale pour la protection des données (Luxemburg)",
        url: "https://cnpd.public.lu",
        dpv: None,
    },
];

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
