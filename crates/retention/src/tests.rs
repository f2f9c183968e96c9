//! The seed companies' promises, evaluated on their own policies with worked dates.

use super::*;
use custos_policy::{SourceFile, load_source};

use crate::example_policies::jbsync;

fn policy(name: &str, text: &str) -> Policy {
    load_source(SourceFile::new(name, text))
        .expect("seed policy loads")
        .policy
}

fn jetstream() -> Policy {
    policy(
        "jetstream.toml",
        include_str!("../../../examples/policies/jetstream.toml"),
    )
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn at(e: Expiry) -> Timestamp {
    match e {
        Expiry::At { at, .. } => at,
        other => panic!("expected a moment, got {other:?}"),
    }
}

fn p(s: &str) -> Period {
    Period::parse(s).expect("period")
}

#[test]
fn jbsync_mail_metadata_is_kept_seven_days_from_creation() {
    let e = expiry(
        &jbsync(),
        "mail.metadata",
        &Clocks::created_at(t("2026-03-01T10:00:00Z")),
        &TenantSettings::default(),
    )
    .unwrap();
    assert_eq!(at(e.clone()), t("2026-03-08T10:00:00Z"));
    assert!(!e.due(t("2026-03-08T09:59:59Z")));
    assert!(e.due(t("2026-03-08T10:00:00Z")));
}

#[test]
fn jbsync_drafts_wait_for_the_decision_then_go_thirty_days_later() {
    let pol = jbsync();
    let mut c = Clocks::created_at(t("2026-03-01T10:00:00Z"));
    assert_eq!(
        expiry(&pol, "draft", &c, &TenantSettings::default()).unwrap(),
        Expiry::Pending {
            waiting_for: vec!["draft.decided".into()]
        }
    );
    c.record("draft.decided", t("2026-03-05T12:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "draft", &c, &TenantSettings::default()).unwrap()),
        t("2026-04-04T12:00:00Z")
    );
}

#[test]
fn a_late_or_repeated_event_keeps_the_first_time_it_happened() {
    let mut c = Clocks::created_at(t("2026-03-01T10:00:00Z"));
    c.record("draft.decided", t("2026-03-05T12:00:00Z"));
    c.record("draft.decided", t("2026-03-09T12:00:00Z"));
    c.record("draft.decided", t("2026-03-04T08:00:00Z"));
    assert_eq!(c.events["draft.decided"], t("2026-03-04T08:00:00Z"));
}

#[test]
fn jbsync_whatsapp_defaults_to_ninety_days_and_a_tenant_may_choose_thirty() {
    let pol = jbsync();
    let c = Clocks::created_at(t("2026-01-01T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "whatsapp", &c, &TenantSettings::default()).unwrap()),
        t("2026-04-01T00:00:00Z")
    );
    check_override(&pol, "whatsapp", p("30 days")).unwrap();
    let s = TenantSettings {
        tier: None,
        overrides: [("whatsapp".to_owned(), p("30 days"))].into(),
        ..TenantSettings::default()
    };
    assert_eq!(
        at(expiry(&pol, "whatsapp", &c, &s).unwrap()),
        t("2026-01-31T00:00:00Z")
    );
}

#[test]
fn an_override_outside_the_bounds_is_refused_with_the_bounds() {
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[category]]\nid = \"wa\"\nname = \"W\"\nretention = { period = \"90 days\", tenant_override = { min = \"7 days\", max = \"1 year\" } }\n",
    ))
    .unwrap()
    .policy;
    let e = check_override(&pol, "wa", p("2 years")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 years is outside the bounds for category `wa`: between 7 days and 1 year"
    );
    assert!(check_override(&pol, "wa", p("1 day")).is_err());
    check_override(&pol, "wa", p("7 days")).unwrap();
    assert_eq!(
        check_override(&jbsync(), "mail.metadata", p("1 day")),
        Err(RetentionError::NoOverride("mail.metadata".into()))
    );
}

#[test]
fn jbsync_raw_audio_goes_as_soon_as_the_transcript_exists() {
    let pol = jbsync();
    let mut c = Clocks::created_at(t("2026-02-01T09:00:00Z"));
    assert!(matches!(
        expiry(&pol, "call.audio", &c, &TenantSettings::default()).unwrap(),
        Expiry::Pending { .. }
    ));
    c.record("transcript.created", t("2026-02-01T09:03:10Z"));
    assert_eq!(
        at(expiry(&pol, "call.audio", &c, &TenantSettings::default()).unwrap()),
        t("2026-02-01T09:03:10Z")
    );
}

#[test]
fn jbsync_style_profile_lives_until_consent_is_withdrawn_or_the_integration_removed() {
    let pol = jbsync();
    let mut c = Clocks::created_at(t("2026-01-01T00:00:00Z"));
    assert_eq!(
        expiry(&pol, "style_profile", &c, &TenantSettings::default()).unwrap(),
        Expiry::Pending {
            waiting_for: vec!["consent.withdrawn".into(), "integration.removed".into()]
        }
    );
    c.record("integration.removed", t("2026-06-01T00:00:00Z"));
    c.record("consent.withdrawn", t("2026-05-01T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "style_profile", &c, &TenantSettings::default()).unwrap()),
        t("2026-05-01T00:00:00Z")
    );
}

#[test]
fn jbsync_prospects_go_after_24_months_or_at_the_objection_whichever_is_first() {
    let pol = jbsync();
    let mut c = Clocks::created_at(t("2026-01-15T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "prospect", &c, &TenantSettings::default()).unwrap()),
        t("2028-01-15T00:00:00Z")
    );
    c.record("objection.received", t("2026-03-01T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "prospect", &c, &TenantSettings::default()).unwrap()),
        t("2026-03-01T00:00:00Z")
    );
}

#[test]
fn jbsync_account_data_is_kept_seven_years_after_the_subscription_ends() {
    let pol = jbsync();
    let mut c = Clocks::created_at(t("2024-05-01T00:00:00Z"));
    assert!(matches!(
        expiry(&pol, "account", &c, &TenantSettings::default()).unwrap(),
        Expiry::Pending { .. }
    ));
    c.record("subscription.ended", t("2026-12-31T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, "account", &c, &TenantSettings::default()).unwrap()),
        t("2033-12-31T00:00:00Z")
    );
}

#[test]
fn jetstream_deletes_three_months_after_contract_end_but_keeps_administration_seven_years() {
    let pol = jetstream();
    let media = pol
        .categories
        .iter()
        .find(|c| {
            c.retention
                .as_ref()
                .is_some_and(|r| r.from == "contract.ended")
        })
        .expect("a contract-bound category");
    let admin = pol
        .categories
        .iter()
        .find(|c| c.retention.as_ref().is_some_and(|r| r.statutory.is_some()))
        .expect("statutory records");
    let mut c = Clocks::created_at(t("2025-01-10T00:00:00Z"));
    c.record("contract.ended", t("2026-06-30T00:00:00Z"));
    assert_eq!(
        at(expiry(&pol, &media.id, &c, &TenantSettings::default()).unwrap()),
        t("2026-09-30T00:00:00Z")
    );
    assert_eq!(
        at(expiry(&pol, &admin.id, &c, &TenantSettings::default()).unwrap()),
        t("2032-01-10T00:00:00Z")
    );
}

#[test]
fn month_arithmetic_ends_on_the_last_day_of_a_shorter_month() {
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[category]]\nid = \"x\"\nname = \"X\"\nretention = { period = \"1 month\" }\n",
    ))
    .unwrap()
    .policy;
    assert_eq!(
        at(expiry(
            &pol,
            "x",
            &Clocks::created_at(t("2026-01-31T12:00:00Z")),
            &TenantSettings::default()
        )
        .unwrap()),
        t("2026-02-28T12:00:00Z")
    );
}

#[test]
fn tiers_set_the_period_and_an_unknown_tier_falls_back_to_the_default() {
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[tier]]\nid = \"basic\"\n[[tier]]\nid = \"pro\"\n[[category]]\nid = \"telemetry\"\nname = \"T\"\n\
         retention = { period = \"30 days\", tiers = [{ tier = \"basic\", period = \"7 days\" }, { tier = \"pro\", period = \"1 year\" }] }\n",
    ))
    .unwrap()
    .policy;
    let c = Clocks::created_at(t("2026-01-01T00:00:00Z"));
    let tier = |t: &str| TenantSettings {
        tier: Some(t.into()),
        overrides: BTreeMap::new(),
        ..TenantSettings::default()
    };
    assert_eq!(
        at(expiry(&pol, "telemetry", &c, &tier("basic")).unwrap()),
        "2026-01-08T00:00:00Z".parse().unwrap()
    );
    assert_eq!(
        at(expiry(&pol, "telemetry", &c, &tier("pro")).unwrap()),
        "2027-01-01T00:00:00Z".parse().unwrap()
    );
    assert_eq!(
        at(expiry(&pol, "telemetry", &c, &tier("gold")).unwrap()),
        "2026-01-31T00:00:00Z".parse().unwrap()
    );
}

#[test]
fn never_stored_and_undefined_categories_are_errors_and_criteria_only_means_manual() {
    let pol = jbsync();
    let c = Clocks::created_at(t("2026-01-01T00:00:00Z"));
    assert_eq!(
        expiry(&pol, "mail.body", &c, &TenantSettings::default()),
        Err(RetentionError::NeverStored("mail.body".into()))
    );
    assert_eq!(
        expiry(&pol, "nope", &c, &TenantSettings::default()),
        Err(RetentionError::UnknownCategory("nope".into()))
    );
    let crit = load_source(SourceFile::new("p.toml", "[policy]\n[[category]]\nid = \"x\"\nname = \"X\"\nretention = { criteria = \"as long as needed\" }\n")).unwrap().policy;
    assert_eq!(
        expiry(&crit, "x", &c, &TenantSettings::default()).unwrap(),
        Expiry::Manual
    );
}

fn subject_hold(s: &str) -> HoldScope {
    HoldScope::Subject { subject: s.into() }
}

fn category_hold(c: &str) -> HoldScope {
    HoldScope::Category { category: c.into() }
}

#[test]
fn legal_holds_cover_tenant_subject_and_category_with_children() {
    // Art. 17(3)(e) GDPR: data needed for legal claims is kept as long as the hold stands.
    assert!(subject_hold("ps_1").covers("ps_1", "draft"));
    assert!(!subject_hold("ps_1").covers("ps_2", "draft"));
    let calendar = category_hold("calendar.event");
    assert!(calendar.covers("ps_2", "calendar.event"));
    assert!(calendar.covers("ps_2", "calendar.event.cancelled"));
    assert!(!calendar.covers("ps_2", "draft"));
    assert!(
        !calendar.covers("ps_2", "calendar.events"),
        "a prefix is not a parent"
    );
    assert!(
        !calendar.covers("ps_2", "calendar"),
        "nor is a parent a child"
    );
    assert!(HoldScope::Tenant.covers("anyone", "anything"));
}

#[test]
fn a_stored_hold_is_a_subject_hold_if_it_names_a_subject_else_a_category_else_the_tenant() {
    assert_eq!(HoldScope::of(Some("ps_1"), None), subject_hold("ps_1"));
    assert_eq!(HoldScope::of(None, Some("draft")), category_hold("draft"));
    assert_eq!(HoldScope::of(None, None), HoldScope::Tenant);
    assert_eq!(HoldScope::of(None, Some("draft")).kind(), "category");
}

#[test]
fn a_category_hold_covers_a_subject_only_through_the_categories_it_has_records_in() {
    let hold = category_hold("call");
    assert!(hold.covers_any("ps_1", ["draft", "call.audio"]));
    assert!(!hold.covers_any("ps_1", ["draft", "callback"]));
    assert!(!hold.covers_any("ps_1", []));
    assert!(
        subject_hold("ps_1").covers_any("ps_1", []),
        "a subject hold covers a subject without records"
    );
    assert!(HoldScope::Tenant.covers_any("ps_9", []));
}

#[test]
fn a_category_hold_keeps_its_children_by_name_and_by_declared_parent_from_the_purge() {
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[category]]\nid = \"customer\"\nname = \"C\"\n[[category]]\nid = \"customer.address\"\nname = \"A\"\n\
         [[category]]\nid = \"invoice\"\nname = \"I\"\nparent = \"customer\"\n[[category]]\nid = \"customers\"\nname = \"X\"\n",
    ))
    .unwrap()
    .policy;
    let mut exempt = category_hold("customer").purge_exempt(&pol).unwrap();
    exempt.sort();
    assert_eq!(exempt, ["customer", "customer.address", "invoice"]);
    assert_eq!(
        category_hold("gone").purge_exempt(&pol).unwrap(),
        ["gone"],
        "a category the policy no longer names is still held"
    );
    assert_eq!(
        subject_hold("ps_1").purge_exempt(&pol).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(HoldScope::Tenant.purge_exempt(&pol), None);
}

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
        .collect()
}

#[test]
fn an_override_wins_over_the_tier_and_the_tier_over_the_policy() {
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[tier]]\nid = \"pro\"\n[[category]]\nid = \"wa\"\nname = \"W\"\n\
         retention = { period = \"90 days\", tenant_override = { min = \"7 days\", max = \"1 year\" }, tiers = [{ tier = \"pro\", period = \"1 year\" }] }\n",
    ))
    .unwrap()
    .policy;
    let c = Clocks::created_at(t("2026-01-01T00:00:00Z"));
    let plain = TenantSettings::default();
    let pro = TenantSettings::from_stored(Some("pro".into()), &BTreeMap::new());
    let own = TenantSettings::from_stored(Some("pro".into()), &overrides(&[("wa", "30 days")]));
    assert_eq!(rule_text(&pol, "wa", &plain), "90 days from created");
    assert_eq!(
        rule_text(&pol, "wa", &pro),
        "1 year from created (tier pro)"
    );
    assert_eq!(
        rule_text(&pol, "wa", &own),
        "30 days from created (tenant override)"
    );
    // The expiry follows the same precedence as the words.
    assert_eq!(
        expiry(&pol, "wa", &c, &own).unwrap(),
        Expiry::At {
            at: t("2026-01-31T00:00:00Z"),
            rule: "wa: 30 days from created (tenant override)".into()
        }
    );
    assert_eq!(
        at(expiry(&pol, "wa", &c, &pro).unwrap()),
        t("2027-01-01T00:00:00Z")
    );
    assert_eq!(
        at(expiry(&pol, "wa", &c, &plain).unwrap()),
        t("2026-04-01T00:00:00Z")
    );
}

#[test]
fn an_override_the_policy_does_not_allow_is_ignored_in_the_rule_and_the_expiry() {
    let pol = jbsync();
    let s = TenantSettings::from_stored(None, &overrides(&[("mail.metadata", "1 day")]));
    assert_eq!(rule_text(&pol, "mail.metadata", &s), "7 days from created");
    assert_eq!(
        at(expiry(
            &pol,
            "mail.metadata",
            &Clocks::created_at(t("2026-03-01T10:00:00Z")),
            &s
        )
        .unwrap()),
        t("2026-03-08T10:00:00Z")
    );
}

#[test]
fn a_stored_override_that_cannot_be_read_is_an_error_not_the_default() {
    let pol = jbsync();
    let s = TenantSettings::from_stored(None, &overrides(&[("whatsapp", "thirty days")]));
    assert!(s.overrides.is_empty());
    let e = expiry(
        &pol,
        "whatsapp",
        &Clocks::created_at(t("2026-01-01T00:00:00Z")),
        &s,
    )
    .unwrap_err();
    assert_eq!(
        e,
        RetentionError::UnreadableOverride {
            category: "whatsapp".into(),
            stored: "thirty days".into()
        }
    );
    assert!(e.to_string().contains("category `whatsapp`"));
    assert_eq!(rule_problem(&pol, "whatsapp", &s), Some(e.clone()));
    assert_eq!(
        rule_text(&pol, "whatsapp", &s),
        format!("expiry cannot be computed: {e}")
    );
    // Other categories are not affected.
    assert_eq!(rule_problem(&pol, "mail.metadata", &s), None);
    assert!(
        expiry(
            &pol,
            "mail.metadata",
            &Clocks::created_at(t("2026-01-01T00:00:00Z")),
            &s
        )
        .is_ok()
    );
}

#[test]
fn statutory_retention_is_named_in_the_rule_and_outlasts_a_shorter_period() {
    // Art. 17(3)(b) GDPR with AWR art. 52 (Dutch tax law): administration is kept seven years,
    // even where the policy's own period for it is shorter.
    let pol = load_source(SourceFile::new(
        "p.toml",
        "[policy]\n[[category]]\nid = \"invoice\"\nname = \"I\"\n\
         retention = { period = \"30 days\", statutory = { law = \"AWR art. 52\", period = \"7 years\" } }\n",
    ))
    .unwrap()
    .policy;
    let none = TenantSettings::default();
    assert_eq!(
        rule_text(&pol, "invoice", &none),
        "30 days from created; statutory 7 years"
    );
    assert_eq!(
        expiry(
            &pol,
            "invoice",
            &Clocks::created_at(t("2025-01-10T00:00:00Z")),
            &none
        )
        .unwrap(),
        Expiry::At {
            at: t("2032-01-10T00:00:00Z"),
            rule: "invoice: statutory 7 years".into()
        }
    );
    // The seed's administration names its law without a period of its own: the rule's period
    // is the statutory one.
    assert_eq!(
        rule_text(&jetstream(), "administrative_record", &none),
        "7 years from created; statutory 7 years"
    );
}

#[test]
fn the_rule_in_words_covers_events_criteria_and_categories_without_a_rule() {
    let pol = jbsync();
    let none = TenantSettings::default();
    assert_eq!(
        rule_text(&pol, "style_profile", &none),
        "until consent.withdrawn or integration.removed"
    );
    assert_eq!(
        rule_text(&pol, "nope", &none),
        "no retention rule (kept until erased)"
    );
    let crit = load_source(SourceFile::new("p.toml", "[policy]\n[[category]]\nid = \"x\"\nname = \"X\"\nretention = { criteria = \"as long as needed\" }\n")).unwrap().policy;
    assert_eq!(
        rule_text(&crit, "x", &none),
        "criteria only (never purged automatically)"
    );
}
