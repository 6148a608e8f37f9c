//! The tables, by hand: the same logical schema on both backends, with Dokploy's
//! camelCase column names.

diesel::table! {
    auth (id) {
        id -> Text,
        email -> Text,
        password -> Text,
        rol -> Text,
        image -> Nullable<Text>,
        secret -> Nullable<Text>,
        token -> Nullable<Text>,
        #[sql_name = "is2FAEnabled"]
        is_2fa_enabled -> Bool,
        #[sql_name = "createdAt"]
        created_at -> Text,
        #[sql_name = "totpLastStep"]
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin (admin_id) {
        #[sql_name = "adminId"]
        admin_id -> Text,
        #[sql_name = "authId"]
        auth_id -> Text,
        #[sql_name = "createdAt"]
        created_at -> Text,
    }
}

diesel::table! {
    user (user_id) {
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "authId"]
        auth_id -> Text,
        #[sql_name = "adminId"]
        admin_id -> Text,
        token -> Text,
        #[sql_name = "isRegistered"]
        is_registered -> Bool,
        #[sql_name = "expirationDate"]
        expiration_date -> Text,
        #[sql_name = "createdAt"]
        created_at -> Text,
    }
}

diesel::table! {
    session (id) {
        id -> Text,
        #[sql_name = "authId"]
        auth_id -> Text,
        kind -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> BigInt,
        #[sql_name = "createdAt"]
        created_at -> Text,
        #[sql_name = "userAgent"]
        user_agent -> Nullable<Text>,
        #[sql_name = "clientAddress"]
        client_address -> Nullable<Text>,
    }
}

diesel::table! {
    session_activity (session_id) {
        #[sql_name = "sessionId"]
        session_id -> Text,
        #[sql_name = "lastUsedAt"]
        last_used_at -> BigInt,
    }
}

diesel::table! {
    throttle_failure (id) {
        id -> BigInt,
        key -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    login_challenge (id) {
        id -> Text,
        #[sql_name = "authId"]
        auth_id -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> BigInt,
        failures -> Integer,
    }
}

diesel::table! {
    backup_code (hash) {
        hash -> Text,
        #[sql_name = "authId"]
        auth_id -> Text,
        #[sql_name = "createdAt"]
        created_at -> Text,
    }
}

diesel::table! {
    auth_epoch (id) {
        id -> Integer,
        n -> BigInt,
        added -> BigInt,
    }
}

diesel::joinable!(admin -> auth (auth_id));
diesel::joinable!(user -> auth (auth_id));
diesel::joinable!(user -> admin (admin_id));
diesel::joinable!(session -> auth (auth_id));
diesel::joinable!(session_activity -> session (session_id));
diesel::joinable!(login_challenge -> auth (auth_id));
diesel::joinable!(backup_code -> auth (auth_id));

diesel::allow_tables_to_appear_in_same_query!(
    auth,
    admin,
    user,
    session,
    session_activity,
    throttle_failure,
    login_challenge,
    backup_code,
    auth_epoch
);
