//! The auth contract over HTTP, against every backend (SQLite, and PostgreSQL when
//! TEST_DATABASE_URL is set): each test runs its scenario once per fresh database.

use crate::helpers::*;
use gateway_store::Backend;
use gateway_wire::{Access, Kind};
use rstest::rstest;
use serde_json::{Value, json};

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn create_admin_signs_in_once(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let b = s.browser();
        let r = b.mutation("auth.createAdmin", json!({"email": "Admin@Example.com", "password": ADMIN_PASSWORD})).await;
        assert_eq!(r.ok(), &json!(true));
        let cookie = r.set_cookie("auth_session").expect("session cookie");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        let me = b.query("auth.get", Value::Null).await;
        let me = me.ok();
        assert_eq!(me["email"], "admin@example.com", "emails are stored lowercase");
        assert_eq!(me["rol"], "admin");
        assert_eq!(me["secret"], Value::Null);
        assert!(me.get("password").is_none());
        assert!(me["image"].as_str().unwrap().starts_with("/avatars/avatar-"));
        assert_eq!(me["id"].as_str().unwrap().len(), 21);

        let again = s
            .browser()
            .mutation("auth.createAdmin", json!({"email": "b@example.com", "password": ADMIN_PASSWORD}))
            .await;
        again.fails(400, "BAD_REQUEST", "Admin already exists");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn racing_create_admin_makes_exactly_one(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let calls = (0..8).map(|i| {
            let b = s.browser();
            async move {
                b.mutation(
                    "auth.createAdmin",
                    json!({"email": format!("a{i}@example.com"), "password": ADMIN_PASSWORD}),
                )
                .await
            }
        });
        let replies = futures_util::future::join_all(calls).await;
        let won = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(won, 1, "{replies:?}");
        for r in replies.iter().filter(|r| r.status != 200) {
            r.fails(400, "BAD_REQUEST", "Admin already exists");
        }
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn login_success_failure_and_no_enumeration(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        let b = s.browser();
        let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        let out = r.ok();
        assert_eq!(out["is2FAEnabled"], false);
        assert_eq!(out["authId"].as_str().unwrap().len(), 21);
        assert!(r.set_cookie("auth_session").is_some());
        assert_eq!(b.query("auth.get", Value::Null).await.status, 200);

        let wrong =
            s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "wrong-password"})).await;
        wrong.fails(400, "BAD_REQUEST", "Credentials do not match");
        let unknown = s
            .browser()
            .mutation("auth.login", json!({"email": "nobody@example.com", "password": "wrong-password"}))
            .await;
        unknown.fails(400, "BAD_REQUEST", "Credentials do not match");
        assert!(wrong.set_cookie("auth_session").is_none());
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn failed_logins_are_throttled_per_account_with_retry_after(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        let b = s.browser();
        for _ in 0..5 {
            let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "wrong-password"})).await;
            r.fails(400, "BAD_REQUEST", "Credentials do not match");
        }
        // Even the right password waits now.
        let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        r.fails(429, "TOO_MANY_REQUESTS", "");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        let rest = b.rest_post("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!((rest.status, rest.body["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")));
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn passwords_on_both_sides_of_the_bcrypt_limit_sign_in(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        // bcrypt reads 72 bytes: lengths around it, in one- and two-byte characters.
        let p = |n: usize| "p".repeat(n);
        let passwords = [p(8), p(71), p(72), p(73), "é".repeat(36), "é".repeat(37), p(256)];
        for (i, password) in passwords.iter().enumerate() {
            let email = format!("user{i}@example.com");
            user(s, &a, &email, password).await;
            let r = s.browser().mutation("auth.login", json!({"email": email, "password": password})).await;
            assert_eq!(r.status, 200, "{} bytes: {r:?}", password.len());
        }
        // One byte fewer, or the same first 72 bytes and then another (the 72-byte password
        // itself with one more byte too): refused.
        let longer = [(3, format!("{}q", p(72))), (2, format!("{}q", p(72))), (4, format!("{}e", "é".repeat(36)))];
        for (i, wrong) in [(2, p(71)), (5, format!("{}e", "é".repeat(36)))].into_iter().chain(longer) {
            let r = s
                .browser()
                .mutation("auth.login", json!({"email": format!("user{i}@example.com"), "password": wrong}))
                .await;
            r.fails(400, "BAD_REQUEST", "Credentials do not match");
        }
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn access_levels(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (u, uid) = user(s, &a, "user@example.com", "user-password").await;
        s.browser().query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        u.query("auth.one", json!({"id": uid})).await.fails(403, "FORBIDDEN", "");
        // Access is checked before input: an invalid input still gets 403.
        u.query("auth.one", json!({})).await.fails(403, "FORBIDDEN", "");
        u.mutation("auth.updateByAdmin", json!({"id": uid, "email": "x@example.com"})).await.fails(
            403,
            "FORBIDDEN",
            "",
        );
        u.mutation("admin.createUserInvitation", json!({"email": "z@example.com"})).await.fails(403, "FORBIDDEN", "");
        let one = a.query("auth.one", json!({"id": uid})).await;
        assert_eq!(one.ok()["email"], "user@example.com");
        a.query("auth.one", json!({"id": "missing"})).await.fails(404, "NOT_FOUND", "Auth not found");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn invitations_are_bound_single_use_and_race_free(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let inv = a.mutation("admin.createUserInvitation", json!({"email": "New@Example.com"})).await;
        let inv = inv.ok().clone();
        assert_eq!(inv["token"].as_str().unwrap().len(), 64);
        let token = inv["token"].as_str().unwrap();
        let id = inv["authId"].as_str().unwrap();

        let view = s.browser().query("admin.getUserByToken", json!({"token": token})).await;
        let view = view.ok();
        assert_eq!((view["email"].as_str(), view["isExpired"].as_bool()), (Some("new@example.com"), Some(false)));
        assert_eq!(view["authId"], inv["authId"]);

        // Bound to its account (fix): another id is refused.
        let other = a.mutation("admin.createUserInvitation", json!({"email": "other@example.com"})).await;
        let other_id = other.ok()["authId"].clone();
        s.browser()
            .mutation("auth.createUser", json!({"id": other_id, "token": token, "password": "password-1"}))
            .await
            .fails(400, "BAD_REQUEST", "Invalid token");
        s.browser()
            .mutation("auth.createUser", json!({"id": id, "token": "nope", "password": "password-1"}))
            .await
            .fails(400, "BAD_REQUEST", "Invalid token");

        // Eight racing registrations: one wins.
        let calls = (0..8).map(|_| {
            let b = s.browser();
            let input = json!({"id": id, "token": token, "password": "password-1"});
            async move { b.mutation("auth.createUser", input).await }
        });
        let replies = futures_util::future::join_all(calls).await;
        assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1, "{replies:?}");
        for r in replies.iter().filter(|r| r.status != 200) {
            r.fails(400, "BAD_REQUEST", "Invalid token");
        }
        let login =
            s.browser().mutation("auth.login", json!({"email": "new@example.com", "password": "password-1"})).await;
        assert_eq!(login.ok()["authId"], inv["authId"]);
        s.browser().query("admin.getUserByToken", json!({"token": token})).await.fails(
            404,
            "NOT_FOUND",
            "Invitation not found",
        );
        a.mutation("admin.createUserInvitation", json!({"email": "new@example.com"})).await.fails(
            400,
            "BAD_REQUEST",
            "Email already exists",
        );
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn api_tokens_rotate_and_travel_as_bearer_or_api_key(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let first = a.mutation0("auth.generateToken").await;
        let first = first.ok()["token"].as_str().unwrap().to_owned();
        let bearer = a.bearer(&first);
        assert_eq!(bearer.query("auth.get", Value::Null).await.ok()["token"], first.as_str());
        let key = a.with_header("x-api-key", &first);
        assert_eq!(key.query("auth.get", Value::Null).await.status, 200);
        assert_eq!(bearer.mutation0("auth.verifyToken").await.ok(), &json!(true));

        // Logout through an API token revokes nothing.
        assert_eq!(bearer.mutation0("auth.logout").await.ok(), &json!(false));
        assert_eq!(bearer.query("auth.get", Value::Null).await.status, 200);

        // A new token (returned, fix) retires the old one at once.
        let second = bearer.mutation0("auth.generateToken").await;
        let second = second.ok()["token"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        a.bearer(&first).query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        assert_eq!(a.bearer(&second).query("auth.get", Value::Null).await.status, 200);

        // An API token is not a session cookie, and garbage is anonymous.
        a.with_header("cookie", &format!("auth_session={second}")).query("auth.get", Value::Null).await.fails(
            401,
            "UNAUTHORIZED",
            "",
        );
        a.bearer("garbage").query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn racing_generate_token_leaves_exactly_one_valid(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let calls = (0..8).map(|_| {
            let a = a.clone();
            async move { a.mutation0("auth.generateToken").await }
        });
        let replies = futures_util::future::join_all(calls).await;
        let mut valid = 0;
        for r in &replies {
            let token = r.ok()["token"].as_str().unwrap();
            if a.bearer(token).query("auth.get", Value::Null).await.status == 200 {
                valid += 1;
            }
        }
        assert_eq!(valid, 1);
        let current = a.query("auth.get", Value::Null).await.ok()["token"].as_str().unwrap().to_owned();
        assert_eq!(a.bearer(&current).query("auth.get", Value::Null).await.status, 200);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn logout_revokes_the_cookie_session(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let r = a.mutation0("auth.logout").await;
        assert_eq!(r.ok(), &json!(true));
        assert!(r.set_cookie("auth_session").unwrap().contains("Max-Age=0"));
        a.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn update_profile_rules(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (u, _) = user(s, &a, "user@example.com", "user-password").await;
        let token = u.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        // Another session of the same user, to see it revoked by a password change.
        let other = s.browser();
        other.mutation("auth.login", json!({"email": "user@example.com", "password": "user-password"})).await.ok();

        // No self-promotion (fix): rol, secret, is2FAEnabled are ignored.
        let r = u
            .mutation(
                "auth.update",
                json!({"email": null, "password": null, "rol": "admin", "is2FAEnabled": true, "image": "/me.png"}),
            )
            .await;
        let me = r.ok();
        assert_eq!(
            (me["rol"].as_str(), me["is2FAEnabled"].as_bool(), me["image"].as_str()),
            (Some("user"), Some(false), Some("/me.png"))
        );

        u.mutation("auth.update", json!({"email": ADMIN_EMAIL, "password": null})).await.fails(
            400,
            "BAD_REQUEST",
            "Email already exists",
        );
        u.mutation("auth.update", json!({"email": null, "password": "new-password"})).await.fails(
            400,
            "BAD_REQUEST",
            "Current password is incorrect",
        );
        u.mutation("auth.update", json!({"email": null, "password": "new-password", "currentPassword": "wrong-one"}))
            .await
            .fails(400, "BAD_REQUEST", "Current password is incorrect");
        u.mutation("auth.update", json!({"email": "not-an-email", "password": null})).await.fails(
            400,
            "BAD_REQUEST",
            "Input validation failed",
        );

        let r = u
            .mutation(
                "auth.update",
                json!({"email": "Renamed@Example.com", "password": "new-password", "currentPassword": "user-password"}),
            )
            .await;
        assert_eq!(r.ok()["email"], "renamed@example.com");
        assert_eq!(r.ok()["token"], Value::Null, "the API token is revoked");
        assert_eq!(u.query("auth.get", Value::Null).await.status, 200, "the session that changed it stays");
        other.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        u.bearer(&token).query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        let login = s
            .browser()
            .mutation("auth.login", json!({"email": "renamed@example.com", "password": "new-password"}))
            .await;
        assert_eq!(login.status, 200);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn update_by_admin_resets_and_revokes(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (u, uid) = user(s, &a, "user@example.com", "user-password").await;
        let r = a
            .mutation(
                "auth.updateByAdmin",
                json!({"id": uid, "password": "reset-password", "email": null, "rol": "admin"}),
            )
            .await;
        assert_eq!(r.ok()["rol"], "user");
        u.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
        let login = s
            .browser()
            .mutation("auth.login", json!({"email": "user@example.com", "password": "reset-password"}))
            .await;
        assert_eq!(login.status, 200);
        a.mutation("auth.updateByAdmin", json!({"id": "missing", "email": null, "password": null})).await.fails(
            404,
            "NOT_FOUND",
            "Auth not found",
        );
        a.mutation("auth.updateByAdmin", json!({"id": uid, "email": ADMIN_EMAIL, "password": null})).await.fails(
            400,
            "BAD_REQUEST",
            "Email already exists",
        );
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn rest_surface_speaks_the_same_api(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let b = s.browser();
        let r = b.rest_post("auth.createAdmin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!((r.status, &r.body), (200, &json!(true)));
        let me = b.rest_get("auth.get", &[]).await;
        assert_eq!(me.body["email"], ADMIN_EMAIL);
        let one = b.rest_get("auth.one", &[("id", me.body["id"].as_str().unwrap())]).await;
        assert_eq!(one.body["id"], me.body["id"]);
        let bad = b.rest_post("auth.login", json!({"email": "nope", "password": "short"})).await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.body["message"], "Input validation failed");
        let paths: Vec<&str> =
            bad.body["issues"].as_array().unwrap().iter().map(|i| i["path"][0].as_str().unwrap()).collect();
        assert!(paths.contains(&"email") && paths.contains(&"password"), "{paths:?}");
        let wrong = b.rest_post("auth.login", json!({"email": ADMIN_EMAIL, "password": "wrong-password"})).await;
        assert_eq!(wrong.body, json!({"message": "Credentials do not match", "code": "BAD_REQUEST"}));
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn two_factor_login_with_challenge_and_replay_refusal(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (secret, setup_step) = enable_2fa(&a).await;

        let b = s.browser();
        let r = b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        let out = r.ok().clone();
        assert_eq!(out["is2FAEnabled"], true);
        assert!(r.set_cookie("auth_session").is_none(), "no session before the pin");
        assert!(r.set_cookie("auth_2fa_challenge").unwrap().contains("HttpOnly"));
        b.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");

        // Without the password step (no challenge cookie): refused (fix).
        let id = out["authId"].clone();
        let next = pin(&secret, setup_step + 1);
        s.browser().mutation("auth.verifyLogin2FA", json!({"pin": next, "id": id})).await.fails(
            401,
            "UNAUTHORIZED",
            "",
        );
        // The setup pin cannot be replayed (fix).
        b.mutation("auth.verifyLogin2FA", json!({"pin": pin(&secret, setup_step), "id": id})).await.fails(
            400,
            "BAD_REQUEST",
            "Invalid 2FA code",
        );
        let r = b.mutation("auth.verifyLogin2FA", json!({"pin": next, "id": id})).await;
        assert_eq!(r.ok(), &json!(true));
        assert!(r.set_cookie("auth_session").is_some());
        assert_eq!(b.query("auth.get", Value::Null).await.ok()["is2FAEnabled"], true);
        // The challenge is used up.
        b.mutation("auth.verifyLogin2FA", json!({"pin": next, "id": id})).await.fails(401, "UNAUTHORIZED", "");

        let off = b.mutation0("auth.disable2FA").await;
        assert_eq!(off.ok()["is2FAEnabled"], false);
        let plain = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!(plain.ok()["is2FAEnabled"], false);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_challenge_is_spent_after_five_wrong_pins(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (secret, setup_step) = enable_2fa(&a).await;
        let b = s.browser();
        let id =
            b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await.ok()["authId"]
                .clone();
        for _ in 0..5 {
            b.mutation("auth.verifyLogin2FA", json!({"pin": wrong_pin(&secret, setup_step), "id": id})).await.fails(
                400,
                "BAD_REQUEST",
                "Invalid 2FA code",
            );
        }
        let right = b.mutation("auth.verifyLogin2FA", json!({"pin": pin(&secret, setup_step + 1), "id": id})).await;
        right.fails(429, "TOO_MANY_REQUESTS", "");
        assert!(right.headers.contains_key("retry-after"));
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn rejected_calls_change_nothing(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let (u, uid) = user(s, &a, "user@example.com", "user-password").await;
        let pending = a.mutation("admin.createUserInvitation", json!({"email": "pending@example.com"})).await;
        let pending = pending.ok().clone();
        let before = gateway_store::testing::snapshot(&s.prepared.store);
        let anon = s.browser();
        let trpc = |path: &str| format!("{}/api/trpc/{path}", s.base);
        let big = "x".repeat(1024 * 1024 + 1);
        let batch51 = vec!["auth.get"; 51].join(",");

        let rejected = vec![
            anon.mutation("auth.createAdmin", json!({"email": "b@example.com", "password": "password-1"})).await,
            anon.mutation("auth.createUser", json!({"id": uid, "token": pending["token"], "password": "password-1"})).await,
            anon.mutation("auth.createUser", json!({"id": pending["authId"], "token": "nope", "password": "password-1"}))
                .await,
            u.mutation("auth.update", json!({"email": ADMIN_EMAIL, "password": null})).await,
            u.mutation("auth.update", json!({"email": null, "password": "password-2"})).await,
            u.query("auth.one", json!({"id": uid})).await,
            u.mutation("auth.updateByAdmin", json!({"id": uid, "password": "password-2"})).await,
            u.mutation("admin.createUserInvitation", json!({"email": "z@example.com"})).await,
            a.mutation("admin.createUserInvitation", json!({"email": "user@example.com"})).await,
            anon.mutation("auth.verifyLogin2FA", json!({"id": uid, "pin": "123456"})).await,
            anon.mutation("auth.login", json!({"email": "not-an-email", "password": "short"})).await,
            anon.mutation0("auth.logout").await,
            anon.raw(|c, _| c.post(trpc("auth.createAdmin")).header("content-type", "application/json").body("{nope")).await,
            anon.raw(|c, _| c.post(trpc("auth.createAdmin")).header("content-type", "text/plain").body("{}")).await,
            anon.raw(|c, _| c.post(trpc("auth.nothing")).header("content-type", "application/json").body("{}")).await,
            anon.raw(|c, _| c.post(trpc("auth.createAdmin")).header("content-type", "application/json").body(big.clone()))
                .await,
            a.raw(|c, _| c.get(format!("{}?batch=1", trpc(&batch51)))).await,
            a.raw(|c, _| c.get(trpc("auth.generateToken"))).await,
            anon.raw(|c, _| {
                c.post(trpc("auth.createAdmin")).header("content-type", "application/json").body(
                    json!({"json": {"email": "c@example.com", "password": "password-1"}, "meta": {"values": {"email": ["regexp"]}}})
                        .to_string(),
                )
            })
            .await,
            anon.rest_post("auth.createAdmin", json!({"email": "c@example.com"})).await,
            a.rest_get("auth.updateByAdmin", &[("id", &uid)]).await,
        ];
        for (i, reply) in rejected.iter().enumerate() {
            assert!(reply.status >= 400 && reply.status < 500, "call {i} was not refused: {reply:?}");
        }
        assert_eq!(gateway_store::testing::snapshot(&s.prepared.store), before, "a rejected call changed the store");
    }
    on_backend!(backend, scenario);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Moves every session's expiry (to simulate time passing without waiting a day).
fn set_session_expiry(s: &TestServer, expires_at: i64) {
    use diesel::prelude::*;
    use gateway_store::schema::session;
    let moved = s
        .prepared
        .store
        .run(|c| Ok(diesel::update(session::table).set(session::expires_at.eq(expires_at)).execute(c)?));
    moved.unwrap();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn sessions_roll_in_their_second_half_and_expire(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        // Fresh session: no new cookie.
        let r = a.query("auth.get", Value::Null).await;
        assert!(r.set_cookie("auth_session").is_none());
        // In its second half: a fresh cookie and a later expiry.
        set_session_expiry(s, unix_now() + 3600);
        let r = a.query("auth.get", Value::Null).await;
        let cookie = r.set_cookie("auth_session").expect("a refreshed cookie");
        assert!(cookie.contains("Max-Age=86400"), "{cookie}");
        assert_eq!(a.query("auth.get", Value::Null).await.status, 200, "the refreshed cookie works");
        // Expired: refused.
        set_session_expiry(s, unix_now() - 1);
        a.query("auth.get", Value::Null).await.fails(401, "UNAUTHORIZED", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn expired_invitations_are_refused(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        use diesel::prelude::*;
        use gateway_store::schema::user;
        let a = admin(s).await;
        let inv = a.mutation("admin.createUserInvitation", json!({"email": "late@example.com"})).await.ok().clone();
        {
            let mut conn = s.prepared.store.conn().unwrap();
            diesel::update(user::table)
                .set(user::expiration_date.eq("2000-01-01T00:00:00.000Z"))
                .execute(&mut *conn)
                .unwrap();
        }
        let view = s.browser().query("admin.getUserByToken", json!({"token": inv["token"]})).await;
        assert_eq!(view.ok()["isExpired"], true);
        s.browser()
            .mutation("auth.createUser", json!({"id": inv["authId"], "token": inv["token"], "password": "password-1"}))
            .await
            .fails(400, "BAD_REQUEST", "Invalid token");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn the_address_counter_throttles_across_accounts(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        admin(s).await;
        for i in 0..5 {
            let r = s
                .browser()
                .mutation("auth.login", json!({"email": format!("x{i}@example.com"), "password": "wrong-password"}))
                .await;
            r.fails(400, "BAD_REQUEST", "Credentials do not match");
        }
        let r = s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        r.fails(429, "TOO_MANY_REQUESTS", "");
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn a_completed_login_resets_the_account_count(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        use diesel::prelude::*;
        use gateway_store::schema::throttle_failure;
        admin(s).await;
        let b = s.browser();
        let wrong = json!({"email": ADMIN_EMAIL, "password": "wrong-password"});
        for _ in 0..4 {
            b.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "Credentials do not match");
        }
        assert_eq!(
            b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await.status,
            200
        );
        // Forget the address counter, so that only the account's is left to observe.
        {
            let mut conn = s.prepared.store.conn().unwrap();
            diesel::delete(throttle_failure::table.filter(throttle_failure::key.like("address:%")))
                .execute(&mut *conn)
                .unwrap();
        }
        for _ in 0..4 {
            b.mutation("auth.login", wrong.clone()).await.fails(400, "BAD_REQUEST", "Credentials do not match");
        }
        assert_eq!(
            b.mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await.status,
            200,
            "the earlier failures were forgiven"
        );
    }
    on_backend!(backend, scenario);
}

/// Every procedure of the registry, on both surfaces: protected ones refuse anonymous
/// callers, admin ones also refuse signed-in users, before their input is read.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn access_levels_hold_for_every_registered_procedure(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let (user, _) = user(s, &admin, "user@example.com", "user-password").await;
        let anonymous = s.browser();
        let call = |b: &Browser, info: &gateway_wire::ProcedureInfo| {
            let (b, path, kind) = (b.clone(), info.path, info.kind);
            async move {
                match kind {
                    Kind::Query => [b.query(path, json!({})).await, b.rest_get(path, &[]).await],
                    Kind::Mutation => [b.mutation(path, json!({})).await, b.rest_post(path, json!({})).await],
                }
            }
        };
        let mut checked = 0;
        for info in s.prepared.gateway.registry().procedures() {
            let refused_by: Vec<(&Browser, u16, &str)> = match info.access {
                Access::Public => continue,
                Access::Protected => vec![(&anonymous, 401, "UNAUTHORIZED")],
                Access::Admin => vec![(&anonymous, 401, "UNAUTHORIZED"), (&user, 403, "FORBIDDEN")],
            };
            for (caller, status, code) in refused_by {
                let [trpc, rest] = call(caller, info).await;
                assert_eq!((trpc.status, trpc.code()), (status, code), "{}: {:?}", info.path, trpc.body);
                assert_eq!(
                    (rest.status, rest.body["code"].as_str()),
                    (status, Some(code)),
                    "{}: {:?}",
                    info.path,
                    rest.body
                );
            }
            checked += 1;
        }
        assert!(checked > 0);
    }
    on_backend!(backend, scenario);
}
