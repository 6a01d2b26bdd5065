// @generated automatically by Diesel CLI.

diesel::table! {
    app_meta (key) {
        key -> Text,
        value -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    cloud_agents (id) {
        id -> Uuid,
        name -> Text,
        is_builtin -> Bool,
        created_at -> Timestamptz,
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
        settings -> Jsonb,
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

diesel::joinable!(connections -> cloud_agents (cloud_agent_id));
diesel::joinable!(connection_tests -> connections (connection_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(audit_events -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_meta,
    audit_events,
    cloud_agents,
    connection_tests,
    connections,
    sessions,
    sign_in_failures,
    users,
);
