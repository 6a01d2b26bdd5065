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
    }
}

diesel::joinable!(connections -> cloud_agents (cloud_agent_id));

diesel::allow_tables_to_appear_in_same_query!(app_meta, cloud_agents, connections,);
