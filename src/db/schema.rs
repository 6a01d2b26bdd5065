// @generated automatically by Diesel CLI.

diesel::table! {
    app_meta (key) {
        key -> Text,
        value -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    agent_job_chunks (job_id, seq) {
        job_id -> Uuid,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    agent_jobs (id) {
        id -> Uuid,
        agent_id -> Uuid,
        connection_id -> Nullable<Uuid>,
        kind -> Text,
        priority -> Int2,
        status -> Text,
        payload -> Jsonb,
        secret_sealed -> Nullable<Bytea>,
        attempts -> Int4,
        lease_token -> Nullable<Uuid>,
        lease_expires_at -> Nullable<Timestamptz>,
        output_started -> Bool,
        queued_at -> Timestamptz,
        claimed_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        agent_ms -> Nullable<Int4>,
        queued_by -> Text,
        chunks_stored -> Int4,
    }
}

diesel::table! {
    bulk_run_items (id) {
        id -> Int8,
        run_id -> Uuid,
        connection_id -> Uuid,
        name -> Text,
        status -> Text,
        outcome_code -> Nullable<Text>,
        message -> Nullable<Text>,
        attempts -> Int4,
        claim_token -> Nullable<Uuid>,
        claimed_at -> Nullable<Timestamptz>,
        lease_expires_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    bulk_runs (id) {
        id -> Uuid,
        kind -> Text,
        created_by -> Nullable<Uuid>,
        created_by_label -> Text,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        total -> Int4,
    }
}

diesel::table! {
    cloud_agents (id) {
        id -> Uuid,
        name -> Text,
        is_builtin -> Bool,
        created_at -> Timestamptz,
        token_hash -> Nullable<Bytea>,
        token_created_at -> Nullable<Timestamptz>,
        is_active -> Bool,
        last_seen_at -> Nullable<Timestamptz>,
        agent_version -> Nullable<Text>,
        hostname -> Nullable<Text>,
        remote_addr -> Nullable<Text>,
        name_key -> Nullable<Text>,
    }
}

diesel::table! {
    connections (id) {
        id -> Uuid,
        name -> Text,
        connector -> Text,
        is_active -> Bool,
        cloud_agent_id -> Uuid,
        implementation_type -> Text,
        is_source -> Bool,
        is_target -> Bool,
        timeout_ms -> Int4,
        query -> Text,
        datetime_format -> Nullable<Text>,
        server_url -> Text,
        api_key_ciphertext -> Bytea,
        api_key_changed_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        deleted_at -> Nullable<Timestamptz>,
        last_test_at -> Nullable<Timestamptz>,
        last_test_code -> Nullable<Text>,
        last_test_close -> Bool,
        check_every -> Text,
        check_query -> Bool,
        next_check_at -> Nullable<Timestamptz>,
        failure_threshold -> Int4,
        health -> Text,
        health_since -> Nullable<Timestamptz>,
        failure_streak -> Int4,
        streak_started_at -> Nullable<Timestamptz>,
        streak_first_message -> Nullable<Text>,
        settings -> Jsonb,
        tags -> Array<Text>,
        needs_key -> Bool,
        name_key -> Text,
    }
}

diesel::table! {
    connection_tests (id) {
        id -> Int8,
        connection_id -> Uuid,
        kind -> Text,
        ran_at -> Timestamptz,
        user_label -> Text,
        outcome_code -> Text,
        message -> Text,
        hint -> Nullable<Text>,
        elapsed_ms -> Int4,
        close_to_timeout -> Bool,
        trigger -> Text,
    }
}

diesel::table! {
    connection_test_daily (connection_id, day) {
        connection_id -> Uuid,
        day -> Date,
        runs -> Int4,
        failures -> Int4,
        degraded -> Int4,
        sum_ms -> Int8,
        max_ms -> Int4,
    }
}

diesel::table! {
    pending_imports (id) {
        id -> Uuid,
        created_by -> Nullable<Uuid>,
        created_by_label -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        document -> Jsonb,
        sealed_keys -> Jsonb,
        preview_digest -> Text,
    }
}

diesel::table! {
    rate_budgets (key) {
        key -> Text,
        slots -> Array<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        is_active -> Bool,
        is_system_admin -> Bool,
        is_connections_admin -> Bool,
        is_agents_admin -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_sign_in_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> Int8,
        subject -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        user_id -> Nullable<Uuid>,
        user_label -> Text,
        ip -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        entity_name -> Text,
        entity_version -> Nullable<Int4>,
        changes -> Jsonb,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    alert_recipients (id) {
        id -> Uuid,
        connection_id -> Uuid,
        kind -> Text,
        address -> Nullable<Text>,
        host -> Nullable<Text>,
        url_ciphertext -> Nullable<Bytea>,
        format -> Nullable<Text>,
        secret_ciphertext -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    alert_deliveries (id) {
        id -> Int8,
        connection_id -> Uuid,
        recipient_id -> Nullable<Uuid>,
        event -> Text,
        channel -> Text,
        target -> Text,
        facts -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        token_hash -> Bytea,
        prefix -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(agent_job_chunks -> agent_jobs (job_id));
diesel::joinable!(alert_deliveries -> alert_recipients (recipient_id));
diesel::joinable!(alert_deliveries -> connections (connection_id));
diesel::joinable!(alert_recipients -> connections (connection_id));
diesel::joinable!(agent_jobs -> cloud_agents (agent_id));
diesel::joinable!(agent_jobs -> connections (connection_id));
diesel::joinable!(bulk_run_items -> bulk_runs (run_id));
diesel::joinable!(connections -> cloud_agents (cloud_agent_id));
diesel::joinable!(connection_tests -> connections (connection_id));
diesel::joinable!(connection_test_daily -> connections (connection_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    agent_job_chunks,
    agent_jobs,
    alert_deliveries,
    alert_recipients,
    api_tokens,
    app_meta,
    audit_events,
    bulk_run_items,
    bulk_runs,
    cloud_agents,
    connection_test_daily,
    connection_tests,
    connections,
    pending_imports,
    rate_budgets,
    sessions,
    sign_in_failures,
    users,
);
