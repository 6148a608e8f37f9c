//! Forward-auth (`GET /api/forward-auth`): the caller's identity in headers for a reverse
//! proxy, or 401, never a 5xx on bad input; and a real nginx (`auth_request`) using it to
//! protect a page.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;
use gateway_store::Backend;
use rstest::rstest;
use serde_json::Value;

async fn forward_auth(b: &Browser) -> Reply {
    b.raw(|c, base| c.get(format!("{base}/api/forward-auth"))).await
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[actix_web::test]
async fn forward_auth_answers_the_identity_or_401(#[case] backend: Backend) {
    async fn scenario(s: &TestServer) {
        let a = admin(s).await;
        let me = a.query("auth.get", Value::Null).await.ok().clone();
        let ok = forward_auth(&a).await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        let header = |r: &Reply, name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header(&ok, "x-auth-id").as_deref(), me["id"].as_str());
        assert_eq!(header(&ok, "x-auth-role").as_deref(), Some("admin"));
        assert_eq!(header(&ok, "x-auth-email").as_deref(), Some(ADMIN_EMAIL));
        assert_eq!(header(&ok, "cache-control").as_deref(), Some("no-store"));
        let token = a.mutation0("auth.generateToken").await.ok()["token"].as_str().unwrap().to_owned();
        let by_token = forward_auth(&s.browser().bearer(&token)).await;
        assert_eq!(header(&by_token, "x-auth-id").as_deref(), me["id"].as_str());

        // Anyone else: 401 in the error shape, no identity, whatever they send.
        let long = "a".repeat(8000);
        let strangers = [
            s.browser(),
            s.browser().with_header("cookie", "auth_session=garbage"),
            s.browser().with_header("cookie", "auth_session=abcdefghijklmnopqrstuvwxyz234567abcdefgh"),
            s.browser().bearer(&long),
            s.browser().with_header("x-api-key", "not\ta token"),
            s.browser().with_header("x-auth-id", me["id"].as_str().unwrap()),
        ];
        for stranger in strangers {
            let r = forward_auth(&stranger).await;
            assert_eq!((r.status, r.body["code"].as_str()), (401, Some("UNAUTHORIZED")), "{:?}", r.body);
            assert!(r.headers.get("x-auth-id").is_none());
        }
    }
    on_backend!(backend, scenario);
}

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM: the master takes its workers down with it (a SIGKILL would orphan them).
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn nginx_auth_request_protects_a_page_with_the_gateways_logins() {
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        skip("nginx is not installed (apt-get install nginx)");
        return;
    };
    let db = fresh_database(Backend::Sqlite).unwrap();
    let s = TestServer::start(&db.url).await;
    let dir = temp_dir("nginx");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "the protected page\n").unwrap();
    for path in [dir.path(), &site] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The app behind nginx: answers with the identity headers it received.
    let app = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(|req: actix_web::HttpRequest| async move {
            let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
            actix_web::HttpResponse::Ok().json(serde_json::json!([
                header("x-auth-id"),
                header("x-auth-role"),
                header("x-auth-email")
            ]))
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let app_addr = app.addrs()[0];
    let app = app.run();
    let app_handle = app.handle();
    actix_web::rt::spawn(app);
    let port = free_port();
    let conf = format!(
        r#"
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_gateway;
            auth_request_set $auth_id $upstream_http_x_auth_id;
            auth_request_set $auth_role $upstream_http_x_auth_role;
            auth_request_set $auth_email $upstream_http_x_auth_email;
            add_header X-Auth-Id $auth_id;
            add_header X-Auth-Role $auth_role;
            add_header X-Auth-Email $auth_email;
            root {site};
        }}
        # The README's snippet: the app behind gets the identity headers, and only those.
        location /app/ {{
            auth_request /_gateway;
            auth_request_set $auth_id $upstream_http_x_auth_id;
            auth_request_set $auth_role $upstream_http_x_auth_role;
            auth_request_set $auth_email $upstream_http_x_auth_email;
            proxy_set_header X-Auth-Id $auth_id;
            proxy_set_header X-Auth-Role $auth_role;
            proxy_set_header X-Auth-Email $auth_email;
            proxy_pass http://{app};
        }}
        location = /_gateway {{
            internal;
            proxy_pass http://{gateway}/api/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
    }}
}}
"#,
        dir = dir.path().display(),
        site = site.display(),
        gateway = s.addr,
        app = app_addr,
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let _nginx = Nginx(
        Command::new(nginx)
            .args(["-p", dir.path().to_str().unwrap(), "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let page = format!("http://127.0.0.1:{port}/index.html");
    let anonymous = reqwest::get(&page).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let a = admin(&s).await;
    let cookie = a.mutation("auth.login", serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    let cookie = cookie.set_cookie("auth_session").unwrap().split(';').next().unwrap().to_owned();
    let signed_in = reqwest::Client::new().get(&page).header("cookie", cookie).send().await.unwrap();
    assert_eq!(signed_in.status(), 200);
    let header = |name: &str| signed_in.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("x-auth-role").as_deref(), Some("admin"));
    assert_eq!(header("x-auth-email").as_deref(), Some(ADMIN_EMAIL));
    assert_eq!(header("x-auth-id").map(|id| id.len()), Some(21));
    assert_eq!(signed_in.text().await.unwrap(), "the protected page\n");

    // Through the README's snippet, the app sees the caller's identity, never one a client
    // claims for itself.
    let me = a.query("auth.get", Value::Null).await.ok().clone();
    let to_app = |cookie: Option<&str>| {
        let mut req = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/app/page"))
            .header("x-auth-role", "admin")
            .header("x-auth-id", "someone-else");
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie.to_owned());
        }
        async move { req.send().await.unwrap() }
    };
    assert_eq!(to_app(None).await.status(), 401);
    let (invited, _) = user(&s, &a, "plain@example.com", "plain-password").await;
    let plain = invited
        .mutation("auth.login", serde_json::json!({"email": "plain@example.com", "password": "plain-password"}))
        .await;
    let plain = plain.set_cookie("auth_session").unwrap().split(';').next().unwrap().to_owned();
    let seen: Value = to_app(Some(&plain)).await.json().await.unwrap();
    assert_eq!(seen[1], "user", "{seen}");
    assert_eq!(seen[2], "plain@example.com");
    assert_ne!(seen[0], "someone-else");
    assert_ne!(seen[0], me["id"]);
    app_handle.stop(true).await;
    s.stop().await;
}
