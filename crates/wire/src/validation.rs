//! Input validation that names every problem of an input in one answer, as zod does:
//! each missing and each wrongly typed field (read off the input's JSON Schema), each
//! failed rule (garde), and each string carrying a control character.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Issue, RpcError};

/// Deserializes and validates an input against its type and, when given, its JSON Schema
/// (an object schema: `properties`, `required`, `type`). Every failure is a 400 listing
/// all the problems found.
pub fn decode_input<T>(input: Option<Value>, schema: Option<&Value>) -> Result<T, RpcError>
where
    T: DeserializeOwned + garde::Validate<Context = ()>,
{
    let Some(mut value) = input else {
        // An absent input is fine for procedures whose input is all optional or none.
        return serde_json::from_value(Value::Null)
            .map_err(|_| RpcError::validation(vec![invalid_type("Required", Vec::new())]))
            .and_then(|v: T| validate(v, schema, Vec::new(), &[]));
    };
    let mut issues = Vec::new();
    control_characters(&value, schema, &mut Vec::new(), &mut issues);
    // Fields that are missing or of the wrong type get a stand-in of the right type, so
    // that the rules of all the other fields still run; their own rule failures are dropped.
    let mut replaced = Vec::new();
    if let Some(schema) = schema {
        check_object(&mut value, schema, &mut Vec::new(), &mut issues, &mut replaced);
    }
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(decoded) => validate(decoded, schema, issues, &replaced),
        Err(e) if issues.is_empty() => Err(RpcError::validation(vec![serde_issue(e)])),
        // The schema already explained what serde could not read.
        Err(_) => Err(RpcError::validation(sorted(issues))),
    }
}

fn validate<T: garde::Validate<Context = ()>>(
    value: T,
    schema: Option<&Value>,
    mut issues: Vec<Issue>,
    replaced: &[Vec<String>],
) -> Result<T, RpcError> {
    if let Err(report) = value.validate() {
        for (path, error) in report.iter() {
            let path = json_path(&path.to_string(), schema);
            if !replaced.iter().any(|r| path.starts_with(r)) {
                issues.push(Issue { message: error.message().to_owned(), path, code: "invalid_input".into() });
            }
        }
    }
    if issues.is_empty() { Ok(value) } else { Err(RpcError::validation(sorted(issues))) }
}

/// A garde path as the input's JSON names it. garde names fields as Rust does; a field that
/// serde renames (`currentPassword` for `current_password`) is a property of the schema
/// under its camelCase name only, and is named that way.
fn json_path(garde_path: &str, schema: Option<&Value>) -> Vec<String> {
    let mut at = schema;
    let mut path = Vec::new();
    for segment in garde_path.split('.').filter(|s| !s.is_empty()) {
        let properties = at.and_then(|s| s.get("properties")).and_then(Value::as_object);
        let name = match properties {
            Some(p) if !p.contains_key(segment) && p.contains_key(&camel_case(segment)) => camel_case(segment),
            _ => segment.to_owned(),
        };
        at = properties.and_then(|p| p.get(&name));
        path.push(name);
    }
    path
}

fn camel_case(snake: &str) -> String {
    let mut parts = snake.split('_');
    let first = parts.next().unwrap_or_default().to_owned();
    parts.fold(first, |mut out, part| {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
        out
    })
}

/// Issues in the order of their fields, then as found.
fn sorted(mut issues: Vec<Issue>) -> Vec<Issue> {
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    issues
}

fn invalid_type(message: impl Into<String>, path: Vec<String>) -> Issue {
    Issue { message: message.into(), path, code: "invalid_type".into() }
}

/// NUL and the other C0 controls (tab aside) have no place in any field of these inputs;
/// refused here, they never reach a store (PostgreSQL refuses NUL in text, SQLite keeps it).
/// Where a schema names the properties, only those are looked at: the others are ignored
/// anyway.
fn control_characters(value: &Value, schema: Option<&Value>, path: &mut Vec<String>, issues: &mut Vec<Issue>) {
    let properties = schema.and_then(|s| s.get("properties")).and_then(Value::as_object);
    if let (Some(properties), Value::Object(fields)) = (properties, value) {
        for (key, property) in properties {
            if let Some(field) = fields.get(key) {
                path.push(key.clone());
                control_characters(field, Some(property), path, issues);
                path.pop();
            }
        }
        return;
    }
    match value {
        Value::String(s) if s.chars().any(|c| c.is_ascii_control() && c != '\t' && c != '\u{7f}') => {
            issues.push(Issue {
                message: "Must not contain control characters".into(),
                path: path.clone(),
                code: "invalid_string".into(),
            });
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                control_characters(item, schema.and_then(|s| s.get("items")), path, issues);
                path.pop();
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                path.push(key.clone());
                control_characters(item, None, path, issues);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Checks an object against an object schema: each required property present, each
/// present property of an allowed type (recursing into nested object schemas).
fn check_object(
    value: &mut Value,
    schema: &Value,
    path: &mut Vec<String>,
    issues: &mut Vec<Issue>,
    replaced: &mut Vec<Vec<String>>,
) {
    let (Some(Value::Object(properties)), Value::Object(fields)) = (schema.get("properties"), value) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |r| r.iter().filter_map(Value::as_str).collect());
    for (name, property) in properties {
        path.push(name.clone());
        match fields.get_mut(name) {
            None if required.contains(&name.as_str()) => {
                issues.push(invalid_type("Required", path.clone()));
                stand_in(fields, name, property, path, replaced);
            }
            None => {}
            Some(field) => {
                let allowed = types(property);
                if allowed.is_empty() || allowed.iter().any(|t| is_of_type(field, t)) {
                    check_object(field, property, path, issues, replaced);
                } else {
                    let expected = allowed.iter().find(|t| **t != "null").unwrap_or(&allowed[0]);
                    let message = format!("Expected {expected}, received {}", type_name(field));
                    issues.push(invalid_type(message, path.clone()));
                    stand_in(fields, name, property, path, replaced);
                }
            }
        }
        path.pop();
    }
}

fn stand_in(
    fields: &mut Map<String, Value>,
    name: &str,
    property: &Value,
    path: &[String],
    replaced: &mut Vec<Vec<String>>,
) {
    let allowed = types(property);
    let value = if allowed.contains(&"null") {
        Value::Null
    } else {
        match allowed.first().copied() {
            Some("string") => Value::from(""),
            Some("boolean") => Value::from(false),
            Some("integer" | "number") => Value::from(0),
            Some("array") => Value::Array(Vec::new()),
            Some("object") => Value::Object(Map::new()),
            _ => Value::Null,
        }
    };
    fields.insert(name.to_owned(), value);
    replaced.push(path.to_vec());
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_of_type(value: &Value, ty: &str) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// zod's names for what it received.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What serde could not read, as one issue (inputs without a schema, or a problem the
/// schema does not describe).
fn serde_issue(e: serde_path_to_error::Error<serde_json::Error>) -> Issue {
    let mut path: Vec<String> = e.path().iter().map(|seg| seg.to_string()).filter(|s| s != "?").collect();
    let inner = e.into_inner().to_string();
    let message = match inner.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        Some(field) => {
            path.push(field.to_owned());
            "Required".to_owned()
        }
        None => inner,
    };
    invalid_type(message, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, garde::Validate, schemars::JsonSchema)]
    struct Login {
        #[garde(email)]
        email: String,
        #[garde(length(chars, min = 8))]
        password: String,
        #[garde(inner(length(chars, max = 5)))]
        #[serde(default)]
        image: Option<String>,
    }

    fn schema() -> Value {
        schemars::schema_for!(Login).to_value()
    }

    fn issues(input: Value) -> Vec<(String, String)> {
        let e = decode_input::<Login>(Some(input), Some(&schema())).unwrap_err();
        e.issues.into_iter().map(|i| (i.path.join("."), i.message)).collect()
    }

    #[test]
    fn every_missing_field_is_named() {
        assert_eq!(issues(json!({})), [("email".into(), "Required".into()), ("password".into(), "Required".into())]);
    }

    #[test]
    fn wrong_types_missing_fields_and_failed_rules_come_together() {
        let found = issues(json!({"email": 5, "image": "far too long"}));
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["email", "image", "password"], "{found:?}");
        assert_eq!(found[0].1, "Expected string, received number");
        assert_eq!(found[2].1, "Required");
        let found = issues(json!({"email": "not-an-email", "password": "short", "image": null}));
        assert_eq!(found.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["email", "password"]);
        assert_eq!(issues(json!({"email": null, "password": []})).len(), 2);
    }

    #[test]
    fn control_characters_are_refused_in_every_string_but_tabs_pass() {
        let found = issues(json!({"email": "a\u{0}@example.com", "password": "pass\u{1b}word", "image": "i\u{7}"}));
        let refused = found.iter().filter(|(_, m)| m == "Must not contain control characters").count();
        assert_eq!(refused, 3, "{found:?}");
        let ok: Login =
            decode_input(Some(json!({"email": "a@example.com", "password": "tab\there"})), Some(&schema())).unwrap();
        assert_eq!(ok.password, "tab\there");
    }

    #[test]
    fn fields_the_input_does_not_have_are_ignored_whatever_they_hold() {
        let ok: Login = decode_input(
            Some(json!({"email": "a@example.com", "password": "password-1", "extra\u{0}": {"x": "\u{1}"}})),
            Some(&schema()),
        )
        .unwrap();
        assert_eq!(ok.email, "a@example.com");
    }

    #[test]
    fn renamed_fields_are_named_as_the_input_names_them() {
        #[derive(Debug, Deserialize, garde::Validate, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        struct Renamed {
            #[garde(length(chars, min = 1))]
            session_id: String,
            #[garde(inner(length(chars, max = 3)))]
            current_password: Option<String>,
        }
        let schema = schemars::schema_for!(Renamed).to_value();
        let input = json!({"sessionId": "", "currentPassword": "too long"});
        let e = decode_input::<Renamed>(Some(input), Some(&schema)).unwrap_err();
        let paths: Vec<Vec<String>> = e.issues.into_iter().map(|i| i.path).collect();
        assert_eq!(paths, [vec!["currentPassword".to_owned()], vec!["sessionId".to_owned()]]);
        // A wrong type stands in for the field: its own rules are not reported again.
        let e = decode_input::<Renamed>(Some(json!({"sessionId": 5})), Some(&schema)).unwrap_err();
        assert_eq!(e.issues.len(), 1, "{:?}", e.issues);
        assert_eq!(camel_case("a_b_cd"), "aBCd");
    }

    #[test]
    fn absent_inputs_and_inputs_without_a_schema_still_decode() {
        let e = decode_input::<Login>(None, Some(&schema())).unwrap_err();
        assert_eq!(e.issues[0].message, "Required");
        let e = decode_input::<Login>(Some(json!({"email": "a@example.com"})), None).unwrap_err();
        assert_eq!(
            (e.issues[0].path.clone(), e.issues[0].message.clone()),
            (vec!["password".into()], "Required".into())
        );
    }
}
