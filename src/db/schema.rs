//! Diesel table definitions, shared by both backends (only types both support).

diesel::table! {
    meta (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        password_hash -> Text,
        is_admin -> Bool,
        disabled -> Bool,
        legacy_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        require_mfa -> Bool,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Text>,
        is_public -> Bool,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grants -> Text,
        scopes -> Text,
        consent -> Bool,
        disabled -> Bool,
        created_at -> BigInt,
        introspect_any -> Bool,
        managed -> Bool,
        access_token_alg -> Nullable<Text>,
        id_token_alg -> Text,
        require_mfa -> Bool,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        state -> Text,
        bits -> Integer,
        public_n -> Text,
        public_e -> Text,
        private_sealed -> Binary,
        master_key_id -> Text,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
        remove_after -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        alg -> Text,
        public_x -> Nullable<Text>,
        public_y -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_families (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_why -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        amr -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (jti_hash) {
        jti_hash -> Text,
        family_id -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        spent_at -> Nullable<BigInt>,
        successor_hash -> Nullable<Text>,
        successor_sealed -> Nullable<Binary>,
        access_jti_hash -> Nullable<Text>,
        kid -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_access_tokens (jti_hash) {
        jti_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(
    sessions,
    auth_codes,
    consents,
    login_throttle,
    meta,
    users,
    clients,
    signing_keys,
    refresh_families,
    refresh_tokens,
    revoked_access_tokens,
    password_resets,
    liveness_generation,
    totp_factors,
    recovery_codes,
    mfa_challenges,
    email_verifications,
    outbox,
    session_clients,
    client_logout,
);

diesel::table! {
    liveness_generation (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        sid -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        address -> Nullable<Text>,
        browser -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    auth_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        family_id -> Nullable<Text>,
        access_jti_hash -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
        amr -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    login_throttle (bucket) {
        bucket -> Text,
        window_start -> BigInt,
        failures -> Integer,
        pending -> Integer,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> BigInt,
        kind -> Text,
        outcome -> Text,
        actor -> Nullable<Text>,
        subject -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        voided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> Text,
        secret_sealed -> Binary,
        master_key_id -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_verifications (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        voided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        destination -> Text,
        payload -> Text,
        ordering_key -> Text,
        created_at -> BigInt,
        next_attempt_at -> BigInt,
        attempts -> Integer,
        status -> Text,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    session_clients (sid, client_id) {
        sid -> Text,
        client_id -> Text,
        first_at -> BigInt,
        last_at -> BigInt,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        surface -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    client_logout (client_id) {
        client_id -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        backchannel_session_required -> Bool,
        frontchannel_logout_uri -> Nullable<Text>,
        frontchannel_session_required -> Bool,
    }
}
