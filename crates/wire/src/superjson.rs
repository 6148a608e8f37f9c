//! The superjson transformer, as tRPC clients use it: inputs arrive as
//! `{"json": .., "meta": {"values": .., "v": 1}}` and outputs leave as `{"json": ..}`.
//!
//! Inputs are plain JSON to our procedures, so annotations are applied by turning each
//! annotated value into its closest JSON form (a Date stays its ISO string, a Set its
//! array, a bigint a number where it fits). Types we cannot map are refused with 400.

use serde_json::{Map, Value};

use crate::error::RpcError;

/// Which encoding inputs and outputs use on the tRPC surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transformer {
    #[default]
    Superjson,
    Json,
}

impl Transformer {
    /// Decodes one call's input; `None` is an absent input.
    pub fn decode(self, raw: Option<Value>) -> Result<Option<Value>, RpcError> {
        match (self, raw) {
            (_, None) => Ok(None),
            (Transformer::Json, Some(v)) => Ok(Some(v)),
            (Transformer::Superjson, Some(v)) => deserialize(v),
        }
    }

    pub fn encode(self, value: Value) -> Value {
        match self {
            Transformer::Json => value,
            Transformer::Superjson => serde_json::json!({ "json": value }),
        }
    }
}

fn invalid(why: impl std::fmt::Display) -> RpcError {
    RpcError::bad_request(format!("Invalid superjson input: {why}"))
}

/// `superjson.deserialize`, mapped onto plain JSON.
pub fn deserialize(payload: Value) -> Result<Option<Value>, RpcError> {
    let Value::Object(mut payload) = payload else {
        // superjson reads `.json` of whatever it gets: anything else is undefined.
        return Ok(None);
    };
    let mut value = payload.remove("json");
    // superjson reads `meta.values` only when present: anything else carries no annotations.
    let Some(Value::Object(meta)) = payload.remove("meta") else {
        return Ok(value);
    };
    let legacy_paths = meta.get("v").is_none();
    if let Some(tree) = meta.get("values") {
        let mut annotations = Vec::new();
        collect(tree, &mut Vec::new(), legacy_paths, &mut annotations)?;
        for (path, ty) in annotations {
            apply(&mut value, &path, ty)?;
        }
    }
    Ok(value)
}

/// Walks an annotation tree in superjson's order (children before their node).
fn collect<'a>(
    tree: &'a Value,
    origin: &mut Vec<String>,
    legacy: bool,
    out: &mut Vec<(Vec<String>, &'a Value)>,
) -> Result<(), RpcError> {
    let visit_children = |children: &'a Map<String, Value>, origin: &mut Vec<String>, out: &mut Vec<_>| {
        for (key, child) in children {
            let depth = origin.len();
            origin.extend(parse_path(key, legacy)?);
            collect(child, origin, legacy, out)?;
            origin.truncate(depth);
        }
        Ok::<(), RpcError>(())
    };
    match tree {
        Value::Array(node) => {
            let (ty, children) = match node.as_slice() {
                [ty] => (ty, None),
                [ty, Value::Object(children)] => (ty, Some(children)),
                _ => return Err(invalid("malformed annotation")),
            };
            if let Some(children) = children {
                visit_children(children, origin, out)?;
            }
            out.push((origin.clone(), ty));
            Ok(())
        }
        Value::Object(children) => visit_children(children, origin, out),
        _ => Err(invalid("malformed annotation")),
    }
}

/// superjson's `parsePath`: `.` separates, `\.` is a literal dot; with `v: 1`, `\\` is a
/// backslash and any other escape is invalid.
pub fn parse_path(path: &str, legacy: bool) -> Result<Vec<String>, RpcError> {
    let mut segments = Vec::new();
    let mut segment = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                segment.push('.');
            }
            '\\' if !legacy => match chars.next() {
                Some('\\') => segment.push('\\'),
                _ => return Err(invalid("invalid path escape")),
            },
            '.' => segments.push(std::mem::take(&mut segment)),
            c => segment.push(c),
        }
    }
    segments.push(segment);
    Ok(segments)
}

fn apply(root: &mut Option<Value>, path: &[String], ty: &Value) -> Result<(), RpcError> {
    let Some((last, parents)) = path.split_last() else {
        let current = root.take().unwrap_or(Value::Null);
        *root = untransform(current, ty)?;
        return Ok(());
    };
    let mut node = root.as_mut().ok_or_else(|| invalid("path into undefined"))?;
    for segment in parents {
        node = child(node, segment)?;
    }
    match node {
        Value::Object(map) => {
            let current = map.remove(last).ok_or_else(|| invalid("path not found"))?;
            if let Some(v) = untransform(current, ty)? {
                map.insert(last.clone(), v);
            }
        }
        Value::Array(_) => {
            let slot = child(node, last)?;
            *slot = untransform(slot.take(), ty)?.unwrap_or(Value::Null);
        }
        _ => return Err(invalid("path not found")),
    }
    Ok(())
}

fn child<'v>(node: &'v mut Value, segment: &str) -> Result<&'v mut Value, RpcError> {
    let found = match node {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    };
    found.ok_or_else(|| invalid("path not found"))
}

/// The JSON form of one annotated value; `None` is undefined.
fn untransform(value: Value, ty: &Value) -> Result<Option<Value>, RpcError> {
    let Some(ty) = ty.as_str() else {
        // Class instances, symbols and custom types are arrays: not something an input can be.
        return Err(invalid("unsupported annotation"));
    };
    match (ty, value) {
        ("undefined", _) => Ok(None),
        ("Date", v @ (Value::String(_) | Value::Null)) => Ok(Some(v)),
        ("bigint", Value::String(s)) => Ok(Some(s.parse::<i64>().map(Value::from).unwrap_or(Value::String(s)))),
        ("number", Value::String(s)) => match s.as_str() {
            "-0" => Ok(Some(Value::from(0))),
            "NaN" | "Infinity" | "-Infinity" => Ok(Some(Value::String(s))),
            _ => Err(invalid("unknown number")),
        },
        ("set", v @ Value::Array(_)) => Ok(Some(v)),
        ("map", Value::Array(pairs)) => Ok(Some(map_to_json(pairs)?)),
        (other, _) if matches!(other, "Date" | "bigint" | "number" | "set" | "map") => {
            Err(invalid(format!("bad value for {other}")))
        }
        (other, _) => Err(invalid(format!("unsupported annotation {other:?}"))),
    }
}

/// A Map arrives as `[[key, value], ..]`: an object when every key is a string.
fn map_to_json(pairs: Vec<Value>) -> Result<Value, RpcError> {
    let all_pairs = pairs.iter().all(|p| p.as_array().is_some_and(|kv| kv.len() == 2));
    if !all_pairs {
        return Err(invalid("bad value for map"));
    }
    if !pairs.iter().all(|p| p[0].is_string()) {
        return Ok(Value::Array(pairs));
    }
    let object = pairs
        .into_iter()
        .map(|p| match p {
            Value::Array(mut kv) => {
                let v = kv.pop().unwrap_or(Value::Null);
                let k = kv.pop().and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
                (k, v)
            }
            _ => unreachable!("checked above"),
        })
        .collect();
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn de(v: Value) -> Result<Option<Value>, RpcError> {
        deserialize(v)
    }

    #[test]
    fn absent_input_in_both_encodings() {
        assert_eq!(de(json!({"json": null, "meta": {"values": ["undefined"], "v": 1}})).unwrap(), None);
        assert_eq!(de(json!({"meta": {"values": ["undefined"]}})).unwrap(), None);
    }

    #[test]
    fn a_meta_that_is_not_an_object_is_ignored_like_superjson_does() {
        assert_eq!(de(json!({"json": {"a": 1}, "meta": null})).unwrap(), Some(json!({"a": 1})));
        assert_eq!(de(json!({"json": {"a": 1}, "meta": "x"})).unwrap(), Some(json!({"a": 1})));
    }

    #[test]
    fn plain_payload_passes_through() {
        let v = json!({"json": {"email": "a@b.c"}});
        assert_eq!(de(v).unwrap(), Some(json!({"email": "a@b.c"})));
    }

    #[test]
    fn undefined_fields_become_absent() {
        let v = json!({"json": {"a": 1, "b": null, "c": [1, null]},
                       "meta": {"values": {"b": ["undefined"], "c.1": ["undefined"]}, "v": 1}});
        assert_eq!(de(v).unwrap(), Some(json!({"a": 1, "c": [1, null]})));
    }

    #[test]
    fn dates_bigints_numbers_sets_maps() {
        let v = json!({"json": {"d": "2026-01-01T00:00:00.000Z", "n": "12", "z": "-0", "x": "NaN",
                                "s": [1, 2], "m": [["k", 1]], "mm": [[1, 2]]},
                       "meta": {"values": {"d": ["Date"], "n": ["bigint"], "z": ["number"], "x": ["number"],
                                           "s": ["set"], "m": ["map"], "mm": ["map"]}, "v": 1}});
        assert_eq!(
            de(v).unwrap(),
            Some(json!({"d": "2026-01-01T00:00:00.000Z", "n": 12, "z": 0, "x": "NaN",
                        "s": [1, 2], "m": {"k": 1}, "mm": [[1, 2]]}))
        );
    }

    #[test]
    fn nested_trees_apply_children_first() {
        // A Set holding a Date: the child annotation is applied while it is still an array.
        let v = json!({"json": {"s": ["2026-01-01T00:00:00.000Z"]},
                       "meta": {"values": {"s": ["set", {"0": ["Date"]}]}, "v": 1}});
        assert_eq!(de(v).unwrap(), Some(json!({"s": ["2026-01-01T00:00:00.000Z"]})));
    }

    #[test]
    fn escaped_paths_both_versions() {
        assert_eq!(parse_path(r"a\.b.c", false).unwrap(), vec!["a.b", "c"]);
        assert_eq!(parse_path(r"a\\b", false).unwrap(), vec![r"a\b"]);
        assert!(parse_path(r"a\b", false).is_err());
        assert_eq!(parse_path(r"a\b", true).unwrap(), vec![r"a\b"]);
        let v = json!({"json": {"a.b": null}, "meta": {"values": {r"a\.b": ["undefined"]}, "v": 1}});
        assert_eq!(de(v).unwrap(), Some(json!({})));
    }

    #[test]
    fn unknown_or_malformed_annotations_are_bad_requests() {
        for meta in [
            json!({"values": ["regexp"]}),
            json!({"values": [["class", "Foo"]]}),
            json!({"values": {"nope": ["Date"]}}),
            json!({"values": 5}),
            json!({"values": ["Date", 7]}),
            json!({"values": {"a": ["bigint"]}}),
        ] {
            let err = de(json!({"json": {"a": 1}, "meta": meta})).unwrap_err();
            assert_eq!(err.code.key(), "BAD_REQUEST", "{meta}");
        }
    }
}
