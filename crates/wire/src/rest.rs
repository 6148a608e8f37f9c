//! The OpenAPI (REST) surface: `GET /api/{path}?field=value` for queries and
//! `POST /api/{path}` with a JSON body for mutations; bare outputs, `{message, code, issues}` errors.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use crate::config::WireConfig;
use crate::dispatch::{Call, Dispatcher, Verb};
use crate::error::{ErrorCode, RpcError};
use crate::http::{context, finish, is_json, parse_json, read_body, status_of};
use crate::registry::{ProcedureInfo, Registry};
use crate::superjson::Transformer;

pub(crate) async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    registry: web::Data<Registry>,
    config: web::Data<WireConfig>,
) -> HttpResponse {
    let registry = registry.into_inner();
    let ctx = context(&req, &config, &registry);
    // Looked up here for the query's input schema and for `Allow`; the dispatcher judges it.
    let info = procedure_path(&req).and_then(|path| Ok((registry.find(&path)?.info(), path)));
    let dispatcher = Dispatcher { registry: registry.clone(), method_override: false, transformer: Transformer::Json };
    let result = match info {
        Ok((info, path)) => {
            let answer =
                async { dispatcher.dispatch(ctx.clone(), decode(&req, payload, &config, info, path).await?).await };
            answer.await.map_err(|e| (e, Some(info.kind)))
        }
        Err(e) => Err((e, None)),
    };
    match result {
        Ok(output) => {
            let mut builder = HttpResponse::Ok();
            finish(&mut builder, &ctx, &[]);
            builder.json(output)
        }
        Err((e, kind)) => {
            let mut builder = status_of(&e);
            finish(&mut builder, &ctx, &[&e]);
            if e.code == ErrorCode::MethodNotSupported
                && let Some(kind) = kind
            {
                builder.insert_header((header::ALLOW, kind.http_method()));
            }
            builder.json(e.rest_body())
        }
    }
}

fn procedure_path(req: &HttpRequest) -> Result<String, RpcError> {
    let raw = req.match_info().get("path").unwrap_or_default();
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|p| p.into_owned())
        .map_err(|_| RpcError::bad_request("The procedure path is not valid UTF-8"))
}

/// The call: a query's input from the query string, a mutation's from the JSON body.
async fn decode(
    req: &HttpRequest,
    payload: web::Payload,
    config: &WireConfig,
    info: &ProcedureInfo,
    path: String,
) -> Result<Call, RpcError> {
    let verb = match *req.method() {
        Method::GET => Verb::Get,
        Method::POST => Verb::Post,
        _ => return Err(RpcError::new(ErrorCode::MethodNotSupported, "Unsupported HTTP method")),
    };
    let input = match verb {
        Verb::Get => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
                .map_err(|_| RpcError::bad_request("Malformed query string"))?;
            Ok(Some(coerce_query(pairs, info.input_schema.as_ref())))
        }
        Verb::Post => {
            config.origins.check(req)?;
            // Generated clients send input-less mutations with no body and no content type
            // at all: that is an absent input. Anything typed must be JSON.
            let typed = req.headers().contains_key(header::CONTENT_TYPE);
            let unsupported =
                || RpcError::new(ErrorCode::UnsupportedMediaType, "Unsupported content type: send application/json");
            if typed && !is_json(req) {
                return Err(unsupported());
            }
            // Read now, judged after the access check (as on the tRPC surface).
            read_body(req, payload, config.max_body_bytes, config.body_timeout).await.and_then(|body| {
                if !typed && !body.is_empty() {
                    return Err(unsupported());
                }
                parse_json(&body)
            })
        }
    };
    Ok(Call { path, verb, input })
}

/// Query-string values are text: give each the type its input schema declares.
pub fn coerce_query(pairs: Vec<(String, String)>, schema: Option<&Value>) -> Value {
    let properties = schema.and_then(|s| s.get("properties"));
    let mut object = Map::new();
    for (key, text) in pairs {
        let types = properties.and_then(|p| p.get(&key)).map(schema_types).unwrap_or_default();
        let value = coerce(&text, &types);
        if types.contains(&"array") {
            match object.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(value),
                _ => unreachable!("array entries are arrays"),
            }
        } else {
            object.insert(key, value);
        }
    }
    Value::Object(object)
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn coerce(text: &str, types: &[&str]) -> Value {
    if types.contains(&"integer")
        && let Ok(n) = text.parse::<i64>()
    {
        return n.into();
    }
    if types.contains(&"number")
        && let Some(n) = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
    if types.contains(&"boolean") {
        match text {
            "true" => return true.into(),
            "false" => return false.into(),
            _ => {}
        }
    }
    if types.contains(&"null") && !types.contains(&"string") && text == "null" {
        return Value::Null;
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_values_take_their_schema_types() {
        let schema = json!({"properties": {
            "n": {"type": "integer"}, "f": {"type": "number"}, "b": {"type": "boolean"},
            "s": {"type": ["string", "null"]}, "tags": {"type": "array"}}});
        let pairs = [("n", "5"), ("f", "1.5"), ("b", "true"), ("s", "7"), ("tags", "a"), ("tags", "b"), ("x", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec();
        assert_eq!(
            coerce_query(pairs, Some(&schema)),
            json!({"n": 5, "f": 1.5, "b": true, "s": "7", "tags": ["a", "b"], "x": "1"})
        );
    }

    #[test]
    fn values_that_do_not_parse_stay_text_for_validation_to_refuse() {
        let schema = json!({"properties": {"n": {"type": "integer"}}});
        let pairs = vec![("n".to_owned(), "five".to_owned())];
        assert_eq!(coerce_query(pairs, Some(&schema)), json!({"n": "five"}));
    }
}
