//! The OpenAPI 3.1 document, generated from the registry.

use serde_json::{Map, Value, json};

use crate::config::WireConfig;
use crate::procedure::{Access, Kind};
use crate::registry::{ProcedureInfo, Registry};

pub fn document(registry: &Registry, config: &WireConfig) -> Value {
    let paths: Map<String, Value> = registry.procedures().map(|p| (format!("/{}", p.path), path_item(p))).collect();
    json!({
        "openapi": "3.1.0",
        "info": { "title": config.title, "version": config.version },
        "servers": [{ "url": "/api" }],
        "paths": paths,
        "components": {
            "schemas": { "Error": error_schema() },
            "responses": { "Error": { "description": "Error response", "content": json_content(json!({"$ref": "#/components/schemas/Error"})) } },
            "securitySchemes": {
                "cookieAuth": { "type": "apiKey", "in": "cookie", "name": config.session_cookie },
                "bearerAuth": { "type": "http", "scheme": "bearer" },
                "apiKeyAuth": { "type": "apiKey", "in": "header", "name": "x-api-key" },
            },
        },
    })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["message", "code"],
        "properties": {
            "message": { "type": "string" },
            "code": { "type": "string" },
            "issues": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["message", "path", "code"],
                    "properties": {
                        "message": { "type": "string" },
                        "path": { "type": "array", "items": { "type": "string" } },
                        "code": { "type": "string" },
                    },
                },
            },
        },
    })
}

fn path_item(p: &ProcedureInfo) -> Value {
    let method = if p.kind == Kind::Query { "get" } else { "post" };
    let mut op = json!({
        "operationId": p.path.replace('.', "-"),
        "tags": [p.path.split('.').next().unwrap_or(p.path)],
        "responses": responses(p),
        "security": security(p.access),
    });
    if !p.summary.is_empty() {
        op["summary"] = json!(p.summary);
    }
    if let Some(schema) = &p.input_schema {
        match p.kind {
            Kind::Query => op["parameters"] = query_parameters(schema),
            Kind::Mutation => {
                op["requestBody"] = json!({ "required": true, "content": json_content(schema.clone()) });
            }
        }
    }
    json!({ method: op })
}

fn query_parameters(schema: &Value) -> Value {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    Value::Array(
        properties
            .into_iter()
            .map(|(name, prop)| {
                json!({ "name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": prop })
            })
            .collect(),
    )
}

/// Every status the surface can answer for this procedure.
fn responses(p: &ProcedureInfo) -> Value {
    let mut statuses = vec![400, 404, 405, 408, 429, 500, 503];
    if p.access != Access::Public {
        statuses.push(401);
    }
    if p.access == Access::Admin {
        statuses.push(403);
    }
    if p.kind == Kind::Mutation {
        statuses.extend([413, 415]);
    }
    statuses.extend(p.errors.iter().map(|e| e.http_status()));
    statuses.sort_unstable();
    statuses.dedup();
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "Successful response", "content": json_content(p.output_schema.clone()) }),
    );
    for status in statuses {
        responses.insert(status.to_string(), json!({ "$ref": "#/components/responses/Error" }));
    }
    Value::Object(responses)
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::Protected | Access::Admin => {
            json!([{ "cookieAuth": [] }, { "bearerAuth": [] }, { "apiKeyAuth": [] }])
        }
    }
}
