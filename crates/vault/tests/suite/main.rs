//! The storage test suite, written once and run against both backends: every case in `cases`
//! becomes `sqlite::<case>` and `postgres::<case>`. PostgreSQL cases read
//! `CUSTOS_TEST_DATABASE_URL`; when it is unset they print a notice and pass (under CI they fail:
//! `testkit/database_url.rs`), when it is set a failure fails. Each PostgreSQL case runs in a schema of its own, dropped afterwards.

mod access;
mod announcements;
mod audited;
mod backup;
mod breaches;
mod cases;
mod connectors;
mod consent;
#[path = "../../../../testkit/database_url.rs"]
mod database_url;
mod datasets;
mod distribution;
mod export;
mod faults;
mod harness;
mod holds;
mod policy_versions;
mod recipients;
mod requests;
mod retention;
#[path = "../../../../testkit/connectors/sample.rs"]
mod sample;
mod shred;
#[path = "../../../../testkit/tenant_sql.rs"]
mod tenant_filter;
mod tenant_sql;
#[path = "../../../../testkit/unzip.rs"]
mod unzip;
mod watch;
mod writes;

macro_rules! shared_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { crate::cases::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::cases::$case(&b); }
            } )*
        }
    };
}

shared_suite!(
    a_record_put_is_read_back_decrypted,
    purposes_and_event_clocks_round_trip,
    records_are_listed_per_subject_oldest_first,
    an_empty_batch_succeeds_and_stores_nothing,
    a_category_the_policy_never_stores_is_refused_naming_it,
    an_undefined_category_is_refused_naming_it,
    an_undefined_purpose_is_refused_naming_it,
    a_record_without_a_purpose_is_refused,
    one_refused_record_in_a_batch_stores_none_of_the_batch,
    a_large_batch_is_stored_whole_with_the_expiries_small_batches_get,
    a_large_batch_failing_late_stores_none_of_it,
    a_tenant_cannot_read_another_tenants_records,
    a_subject_has_a_different_pseudonym_in_each_tenant,
    a_ciphertext_moved_to_another_record_fails_to_decrypt,
    a_ciphertext_moved_to_another_tenant_fails_to_decrypt,
    a_truncated_ciphertext_is_an_error_naming_the_record,
    a_corrupted_ciphertext_is_an_error_naming_the_record,
    a_wrong_master_key_fails_at_open,
    the_payload_is_not_stored_in_the_clear,
    key_rotation_rewraps_data_keys_and_leaves_record_rows_byte_identical,
    records_written_after_rotation_decrypt_after_reopening,
    erasure_destroys_the_subjects_keys_and_records_and_nothing_else,
    a_copy_of_an_erased_record_is_unreadable,
    an_erasure_replayed_from_the_journal_does_not_touch_data_written_after_it,
    a_batch_write_killed_at_a_random_point_leaves_all_or_nothing,
    two_processes_purging_at_once_never_take_a_batch_twice_nor_skip_one,
    a_purge_killed_at_a_random_point_resumes_cleanly,
    an_erasure_killed_at_a_random_point_leaves_all_or_nothing,
    writes_and_erasures_are_audited_with_pseudonyms_only,
    an_audit_entry_edited_in_the_database_is_reported_by_the_vault,
    a_checkpoint_can_be_signed_at_any_time_and_verifies_with_the_published_key,
    a_vault_trail_rehashed_after_its_checkpoints_were_deleted_is_tampered,
    a_trail_cut_back_to_an_earlier_checkpoint_is_caught_by_the_checkpoint_file,
);

macro_rules! retention_suite {
    ($($case:ident),* $(,)?) => {
        mod retention_sqlite {
            $( #[test] fn $case() { crate::retention::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod retention_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::retention::$case(&b); }
            } )*
        }
    };
}

retention_suite!(
    jbsync_promises_hold_over_simulated_months,
    jetstream_deletes_three_months_after_the_contract_but_keeps_administration_seven_years,
    jetlink_keeps_telemetry_by_tier_and_all_else_until_90_days_after_termination,
    an_override_outside_the_bounds_is_refused_with_the_bounds,
    events_are_checked_idempotent_and_order_free,
    a_legal_hold_stops_every_purge_of_what_it_covers_until_released,
    a_purge_stopped_halfway_resumes_and_receipts_account_for_every_record,
    a_clock_that_went_back_is_refused,
    a_changed_policy_recomputes_expiries_at_the_next_purge,
    a_legal_hold_refuses_erasure_until_released,
    records_sharing_one_expiry_still_go_in_bounded_batches,
    an_override_that_cannot_be_read_refuses_writes_of_its_category_and_shows_in_the_report,
    a_tenant_whose_expiries_cannot_be_recomputed_is_reported_and_the_others_purged,
);

mod retention_postgres_only {
    #[test]
    fn a_record_changed_while_its_batch_is_deleted_is_not_counted_in_a_receipt() {
        if let Some(b) = crate::harness::Backend::postgres(
            "a_record_changed_while_its_batch_is_deleted_is_not_counted_in_a_receipt",
        ) {
            crate::retention::a_record_changed_while_its_batch_is_deleted_is_not_counted_in_a_receipt(&b);
        }
    }

    #[test]
    fn a_record_changed_while_its_expiry_is_recomputed_still_gets_the_new_one() {
        if let Some(b) = crate::harness::Backend::postgres(
            "a_record_changed_while_its_expiry_is_recomputed_still_gets_the_new_one",
        ) {
            crate::retention::a_record_changed_while_its_expiry_is_recomputed_still_gets_the_new_one(&b);
        }
    }

    #[test]
    fn a_recompute_commits_page_by_page() {
        if let Some(b) = crate::harness::Backend::postgres("a_recompute_commits_page_by_page") {
            crate::retention::a_recompute_commits_page_by_page(&b);
        }
    }

    #[test]
    fn a_statement_made_stale_by_a_schema_change_is_prepared_again() {
        if let Some(b) = crate::harness::Backend::postgres(
            "a_statement_made_stale_by_a_schema_change_is_prepared_again",
        ) {
            crate::retention::a_statement_made_stale_by_a_schema_change_is_prepared_again(&b);
        }
    }
}

macro_rules! requests_suite {
    ($($case:ident),* $(,)?) => {
        mod requests_sqlite {
            $( #[test] fn $case() { crate::requests::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod requests_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::requests::$case(&b); }
            } )*
        }
    };
}

requests_suite!(
    a_request_moves_through_its_lifecycle_with_history_and_audit,
    an_unknown_subject_gets_the_same_answer_as_a_known_one,
    an_erasure_keeps_statutory_records_restricted_and_shreds_the_rest,
    an_interrupted_erasure_finishes_once,
    an_extension_needs_a_reason_and_the_first_month,
    flags_follow_restriction_objection_and_withdrawal,
    a_page_of_the_queue_is_counted_and_cut_in_the_database_as_the_rules_flag_each_request,
    who_filed_a_request_is_kept_sealed_while_it_is_open_and_forgotten_when_it_closes,
);

macro_rules! export_suite {
    ($($case:ident),* $(,)?) => {
        mod export_sqlite {
            $( #[test] fn $case() { crate::export::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod export_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::export::$case(&b); }
            } )*
        }
    };
}

export_suite!(
    records_stream_in_pages_oldest_first_and_only_the_subjects,
    an_access_answer_for_a_jbsync_subject_lists_every_purpose_recipient_and_retention,
    an_access_answer_includes_records_kept_under_restriction_marked,
    a_portability_answer_holds_only_provided_data_on_consent_or_contract,
    an_answer_is_audited_with_counts_and_the_pseudonym_only,
    an_unknown_subject_gets_an_empty_answer_of_the_same_shape,
    a_record_that_fails_to_decrypt_fails_the_answer_naming_it,
    an_output_that_fails_midway_fails_the_answer_and_nothing_hangs,
);

macro_rules! consent_suite {
    ($($case:ident),* $(,)?) => {
        mod consent_sqlite {
            $( #[test] fn $case() { crate::consent::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod consent_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::consent::$case(&b); }
            } )*
        }
    };
}

consent_suite!(
    the_consent_ledger_grows_forward_and_refuses_what_is_not_consent,
    stale_consent_and_statement_acceptance,
    suppression_outlives_erasure_and_gpc_objects_to_marketing,
    approval_gates_issue_one_time_tokens,
    an_approval_token_opens_only_its_own_item_and_subject,
    undeclared_approval_actions_are_refused_with_the_nearest_name,
);

macro_rules! writes_suite {
    ($($case:ident),* $(,)?) => {
        mod writes_sqlite {
            $( #[test] fn $case() { crate::writes::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod writes_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::writes::$case(&b); }
            } )*
        }
    };
}

writes_suite!(
    a_record_under_a_purpose_that_does_not_use_its_category_is_refused,
    an_event_at_a_scope_the_policy_does_not_declare_is_refused,
    a_subject_is_one_whatever_the_spelling_of_its_address,
    a_write_answers_from_what_it_wrote_and_remembers_its_idempotency_key,
    one_record_is_corrected_or_deleted_with_recipients_told,
    a_rectification_request_writes_its_corrections,
    deleting_the_last_record_of_a_category_shreds_its_key,
    writes_and_erasures_of_one_subject_at_once_leave_every_record_readable,
);

macro_rules! shred_suite {
    ($($case:ident),* $(,)?) => {
        mod shred_sqlite {
            $( #[test] fn $case() { crate::shred::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod shred_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::shred::$case(&b); }
            } )*
        }
    };
}

shred_suite!(
    a_partial_erasure_destroys_the_keys_of_what_it_erases_and_keeps_the_kept_readable,
    a_kept_record_whose_clock_has_not_started_says_until_when,
);

macro_rules! access_suite {
    ($($case:ident),* $(,)?) => {
        mod access_sqlite {
            $( #[test] fn $case() { crate::access::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod access_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::access::$case(&b); }
            } )*
        }
    };
}

access_suite!(
    an_issued_key_authenticates_as_its_tenant_and_role_until_revoked,
    wrong_malformed_and_unknown_keys_do_not_authenticate,
    tenants_are_validated_and_admin_keys_belong_to_no_tenant,
    the_first_admin_key_is_bootstrapped_once_and_keys_list_without_secrets,
    a_console_accounts_second_factor_is_sealed_under_the_vaults_key,
    a_keys_bucket_and_revocation_are_shared_by_every_handle_on_postgresql,
    a_revocation_through_any_handle_moves_every_watch_on,
);

macro_rules! holds_suite {
    ($($case:ident),* $(,)?) => {
        mod holds_sqlite {
            $( #[test] fn $case() { crate::holds::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod holds_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::holds::$case(&b); }
            } )*
        }
    };
}

holds_suite!(a_hold_on_a_category_refuses_deleting_its_declared_children);

macro_rules! watch_suite {
    ($($case:ident),* $(,)?) => {
        mod watch_sqlite {
            $( #[test] fn $case() { crate::watch::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod watch_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::watch::$case(&b); }
            } )*
        }
    };
}

watch_suite!(
    a_daily_job_is_claimed_once_a_day_and_a_released_claim_can_be_taken_again,
    the_seal_counts_the_entries_after_the_last_checkpoint,
    an_application_with_a_webhook_hears_which_records_a_purge_and_an_erasure_deleted,
    replacing_the_master_key_keeps_records_pseudonyms_and_the_trail_and_shuts_out_the_old_key,
);

macro_rules! policy_versions_suite {
    ($($case:ident),* $(,)?) => {
        mod policy_versions_sqlite {
            $( #[test] fn $case() { crate::policy_versions::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod policy_versions_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::policy_versions::$case(&b); }
            } )*
        }
    };
}

policy_versions_suite!(a_policy_version_is_recorded_once_with_its_first_publication);

macro_rules! breaches_suite {
    ($($case:ident),* $(,)?) => {
        mod breaches_sqlite {
            $( #[test] fn $case() { crate::breaches::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod breaches_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::breaches::$case(&b); }
            } )*
        }
    };
}

breaches_suite!(
    a_breach_keeps_every_version_and_is_audited_by_digest,
    a_decided_breach_closes_once_those_it_names_were_told,
    the_affected_query_counts_by_category_and_window_and_those_erased_since,
    letters_to_the_people_affected_are_told_once_and_keep_no_address,
    a_processors_notice_lands_in_the_controllers_register_once,
    deadline_reminders_are_given_once_each_and_only_while_needed,
);

macro_rules! announcements_suite {
    ($($case:ident),* $(,)?) => {
        mod announcements_sqlite {
            $( #[test] fn $case() { crate::announcements::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod announcements_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { crate::announcements::$case(&b); }
            } )*
        }
    };
}

announcements_suite!(
    a_new_us_sub_processor_is_announced_once_with_thirty_days_notice_and_refused_until_then,
    an_objection_holds_for_the_objecting_tenant_only_and_closes_at_the_effective_date,
    a_failed_email_is_retried_and_recorded_then_dead_never_dropped,
    a_longer_contract_notice_moves_the_effective_date_for_that_tenant,
    a_jet_stream_statement_to_accept_at_next_login_is_announced_and_must_accept_agrees,
);
