//! The gateway: a registry and its settings, and the routes that serve them.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::config::WireConfig;
use crate::registry::Registry;
use crate::{forward_auth, openapi, rest, trpc};

/// Tells `/ready` whether the service's dependencies answer.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

pub struct Gateway {
    registry: Arc<Registry>,
    config: Arc<WireConfig>,
    readiness: Option<ReadinessCheck>,
    openapi: Arc<Value>,
}

impl Gateway {
    pub fn new(registry: Registry, config: WireConfig) -> Self {
        let openapi = Arc::new(openapi::document(&registry, &config));
        Self { registry: Arc::new(registry), config: Arc::new(config), readiness: None, openapi }
    }

    pub fn with_readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn config(&self) -> &WireConfig {
        &self.config
    }
    pub fn openapi(&self) -> &Value {
        &self.openapi
    }

    /// Mounts `/health`, `/ready`, `/api/openapi.json`, `/api/forward-auth`, `/api/trpc/..`
    /// and `/api/{path}`.
    /// The handlers get the registry and the settings as app data.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let (openapi, readiness) = (Arc::clone(&self.openapi), self.readiness.clone());
        cfg.app_data(web::Data::from(Arc::clone(&self.registry)))
            .app_data(web::Data::from(Arc::clone(&self.config)))
            .route("/health", web::get().to(health))
            .route("/ready", web::get().to(move || ready(readiness.clone())))
            .route("/api/openapi.json", web::get().to(move || openapi_json(Arc::clone(&openapi))))
            .route("/api/forward-auth", web::get().to(forward_auth::handle))
            .service(web::resource("/api/trpc/{tail:.*}").to(trpc::handle))
            .service(web::resource("/api/{path}").to(rest::handle));
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn ready(readiness: Option<ReadinessCheck>) -> HttpResponse {
    let ok = match readiness {
        Some(check) => check().await,
        None => true,
    };
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
    }
}

async fn openapi_json(document: Arc<Value>) -> HttpResponse {
    HttpResponse::Ok().json(&*document)
}
