//! Forward-auth for reverse proxies (Traefik's ForwardAuth, nginx's `auth_request`, Caddy's
//! `forward_auth`): `GET /api/forward-auth` with the original request's cookies or token
//! answers 200 and the caller's identity in headers, or 401. Any app behind the proxy can
//! then use the gateway's logins.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::WireConfig;
use crate::error::RpcError;
use crate::http::{context, finish, status_of};
use crate::registry::Registry;

pub(crate) async fn handle(
    req: HttpRequest,
    registry: web::Data<Registry>,
    config: web::Data<WireConfig>,
) -> HttpResponse {
    let ctx = context(&req, &config, &registry);
    let names = &config.forward_auth_headers;
    let (mut builder, errors) = match ctx.identity().await {
        Ok(Some(identity)) => {
            let mut ok = HttpResponse::Ok();
            ok.insert_header((names.id.as_str(), identity.subject.as_str()));
            ok.insert_header((names.role.as_str(), if identity.admin { "admin" } else { "user" }));
            if let Some(email) = &identity.email {
                ok.insert_header((names.email.as_str(), email.as_str()));
            }
            (ok, Vec::new())
        }
        Ok(None) => (status_of(&RpcError::unauthorized()), vec![RpcError::unauthorized()]),
        // The store is down: not the caller's fault, and not a yes.
        Err(e) => (status_of(&e), vec![e]),
    };
    // A rolling refresh made along the way reaches the browser where the proxy passes it on.
    finish(&mut builder, &ctx, &errors.iter().collect::<Vec<_>>());
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    match errors.first() {
        Some(e) => builder.json(e.rest_body()),
        None => builder.finish(),
    }
}
