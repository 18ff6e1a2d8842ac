//! The syntax tree `/api/v1/parse_query` answers (upstream `web/api/v1/translate_ast.go`),
//! from promql-parser's serde encoding, changed where that differs from Prometheus's: a
//! selector's metric name is also its last matcher (`__name__="foo"`) and `""` when absent; a
//! binary expression between two vectors always has `matching` (one-to-one unless a modifier or
//! set operator says otherwise) and one with a scalar side never; `card` is the cardinality's
//! name, its `group_left`/`group_right` labels go to `include`.
//!
//! Recursion follows the tree, whose depth the parser has already bounded (`MAX_DEPTH`).

use serde_json::{Map, Value, json};

/// Rewrites promql-parser's encoding of an expression into Prometheus's, in place.
pub(crate) fn translate(node: &mut Value) {
    let Some(object) = node.as_object_mut() else { return };
    for child in ["expr", "param", "lhs", "rhs"] {
        if let Some(value) = object.get_mut(child) {
            translate(value);
        }
    }
    if let Some(Value::Array(args)) = object.get_mut("args") {
        args.iter_mut().for_each(translate);
    }
    match object.get("type").and_then(Value::as_str) {
        Some("vectorSelector" | "matrixSelector") => selector(object),
        Some("binaryExpr") => binary(object),
        _ => {}
    }
}

/// The metric name written outside the braces becomes a matcher too, after the others.
fn selector(object: &mut Map<String, Value>) {
    let name = object.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
    object.insert("name".to_owned(), json!(name));
    if name.is_empty() {
        return;
    }
    if let Some(Value::Array(matchers)) = object.get_mut("matchers") {
        matchers.push(json!({"name": "__name__", "type": "=", "value": name}));
    }
}

fn binary(object: &mut Map<String, Value>) {
    let vectors = [&object["lhs"], &object["rhs"]].iter().all(|side| value_type(side) == "vector");
    if !vectors {
        object.insert("matching".to_owned(), Value::Null);
        return;
    }
    let set_operator = matches!(object.get("op").and_then(Value::as_str), Some("and" | "or" | "unless"));
    let default_card = if set_operator { "many-to-many" } else { "one-to-one" };
    let matching = object.entry("matching").or_insert(Value::Null);
    if matching.is_null() {
        *matching = json!({"card": default_card, "labels": [], "on": false, "include": []});
        return;
    }
    // promql-parser writes `group_left(b)` as `"card": {"many-to-one": ["b"]}`.
    let group = matching["card"].as_object().and_then(|card| card.iter().next()).map(|(k, v)| (k.clone(), v.clone()));
    if let Some((card, include)) = group {
        matching["card"] = json!(card);
        matching["include"] = include;
    }
}

/// The value type of an encoded expression, as Prometheus's `Expr.Type()` names it.
fn value_type(node: &Value) -> &str {
    match node["type"].as_str() {
        Some("vectorSelector" | "aggregation") => "vector",
        Some("matrixSelector" | "subquery") => "matrix",
        Some("numberLiteral") => "scalar",
        Some("stringLiteral") => "string",
        Some("call") => node["func"]["returnType"].as_str().unwrap_or(""),
        Some("parenExpr" | "unaryExpr") => value_type(&node["expr"]),
        Some("binaryExpr") => {
            let vector = value_type(&node["lhs"]) == "vector" || value_type(&node["rhs"]) == "vector";
            if vector { "vector" } else { "scalar" }
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::translate;
    use serde_json::{Value, json};

    fn ast(query: &str) -> Value {
        let mut value = serde_json::to_value(promlite_promql::parse(query).unwrap()).unwrap();
        translate(&mut value);
        value
    }

    #[test]
    fn selectors_carry_their_name_as_a_matcher() {
        let name = |v: &str| json!({"name": "__name__", "type": "=", "value": v});
        assert_eq!(ast("up")["matchers"], json!([name("up")]));
        assert_eq!(ast("up{a=\"b\"}")["matchers"], json!([{"name": "a", "type": "=", "value": "b"}, name("up")]));
        let inside = ast("{__name__=\"up\"}");
        assert_eq!((inside["name"].clone(), inside["matchers"].clone()), (json!(""), json!([name("up")])));
        assert_eq!(ast("rate(x[5m])")["args"][0]["matchers"], json!([name("x")]));
    }

    #[test]
    fn vector_matching_only_between_vectors() {
        let matching = |q: &str| ast(q)["matching"].clone();
        let one_to_one = json!({"card": "one-to-one", "labels": [], "on": false, "include": []});
        assert_eq!(matching("a / b"), one_to_one);
        assert_eq!(matching("a + 1 / b"), one_to_one);
        assert_eq!(matching("a and b")["card"], "many-to-many");
        assert_eq!(matching("a > bool 1"), Value::Null);
        assert_eq!(matching("1 + 2"), Value::Null);
        let grouped = matching("a / on(x) group_left(y) b");
        assert_eq!((grouped["card"].clone(), grouped["include"].clone()), (json!("many-to-one"), json!(["y"])));
        assert_eq!((grouped["labels"].clone(), grouped["on"].clone()), (json!(["x"]), json!(true)));
        assert_eq!(matching("a / ignoring(x) group_right b")["card"], "one-to-many");
    }
}
