//! Validation names every problem of an input in one answer, as zod does (each missing
//! field, each wrong type, each failed rule), and strings never carry NUL or other control
//! characters: on both surfaces, identically on every backend, with nothing changed.

use crate::helpers::*;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::{Value, json};

/// `(path, message)` of each issue, from a tRPC error or a REST body.
fn issues(r: &Reply) -> Vec<(String, String)> {
    let list = if r.body["issues"].is_array() { &r.body["issues"] } else { &r.error()["data"]["issues"] };
    list.as_array()
        .unwrap_or_else(|| panic!("no issues in {:?}", r.body))
        .iter()
        .map(|i| {
            let path: Vec<&str> = i["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            (path.join("."), i["message"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn paths(r: &Reply) -> Vec<String> {
    issues(r).into_iter().map(|(p, _)| p).collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn every_problem_of_an_input_is_named_in_one_answer(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let b = s.browser();
        for (input, expected) in [
            (json!({}), vec![("email", "Required"), ("password", "Required")]),
            (
                json!({"email": 5, "password": true}),
                vec![("email", "Expected string, received number"), ("password", "Expected string, received boolean")],
            ),
            (json!({"email": null}), vec![("email", "Expected string, received null"), ("password", "Required")]),
            (json!({"password": "short"}), vec![("email", "Required"), ("password", "")]),
        ] {
            for r in [b.mutation("auth.login", input.clone()).await, b.rest_post("auth.login", input.clone()).await] {
                assert_eq!(r.status, 400, "{:?}", r.body);
                let found = issues(&r);
                assert_eq!(found.len(), expected.len(), "{input}: {found:?}");
                for ((path, message), (want_path, want_message)) in found.iter().zip(&expected) {
                    assert_eq!(path, want_path, "{input}: {found:?}");
                    if !want_message.is_empty() {
                        assert_eq!(message, want_message, "{input}: {found:?}");
                    }
                }
            }
        }
        // The flattened form Dokploy's forms read lists every field too.
        let r = b.mutation("auth.login", json!({"email": "not-an-email", "password": "x"})).await;
        let fields = &r.error()["data"]["zodError"]["fieldErrors"];
        assert!(fields["email"].is_array() && fields["password"].is_array(), "{fields}");
        // Rules of optional fields run beside the type errors of the others.
        let r = admin.mutation("auth.updateByAdmin", json!({"id": 7, "email": "nope", "password": "short"})).await;
        assert_eq!(paths(&r), ["email", "id", "password"], "{:?}", r.body);
    }
    on_backend!(backend, scenario);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn control_characters_are_refused_in_every_string_and_change_nothing(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let admin = admin(s).await;
        let before = gateway_store::testing::snapshot(&s.prepared.store);
        let nul = "img\u{0}";
        for (field, r) in [
            ("image", admin.mutation("auth.update", json!({"image": nul})).await),
            ("image", admin.rest_post("auth.update", json!({"image": nul})).await),
            ("id", admin.query("auth.one", json!({"id": "abc\u{0}"})).await),
            ("id", admin.rest_get("auth.one", &[("id", "abc\u{0}")]).await),
            ("token", admin.rest_get("admin.getUserByToken", &[("token", "t\u{1b}[2J")]).await),
            ("email", admin.mutation("admin.createUserInvitation", json!({"email": "new\u{0}@example.com"})).await),
            (
                "password",
                s.browser()
                    .mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "admin-pass\u{0}word"}))
                    .await,
            ),
        ] {
            assert_eq!(r.status, 400, "{:?}", r.body);
            let found = issues(&r);
            let named = (field.to_owned(), "Must not contain control characters".to_owned());
            assert!(found.contains(&named), "{field}: {found:?}");
        }
        assert_eq!(before, gateway_store::testing::snapshot(&s.prepared.store), "a refused input changed the store");
        // A tab is text: a password may hold one.
        let r = admin
            .mutation("auth.update", json!({"password": "tab\tpassword", "currentPassword": ADMIN_PASSWORD}))
            .await;
        r.ok();
        let login =
            s.browser().mutation("auth.login", json!({"email": ADMIN_EMAIL, "password": "tab\tpassword"})).await;
        assert_eq!(login.ok()["is2FAEnabled"], Value::Bool(false));
    }
    on_backend!(backend, scenario);
}
