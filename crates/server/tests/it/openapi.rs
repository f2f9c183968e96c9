//! The OpenAPI document is one clients can be generated from: checked structurally on the served
//! `/openapi.json`, so that a route added without its error responses, a query parameter
//! declared in the path, or a problem without its media type fails here.

use crate::{Running, get};

const METHODS: [&str; 4] = ["get", "put", "post", "delete"];

fn document() -> serde_json::Value {
    let s = Running::start();
    serde_json::from_str(&get(&s.url("/openapi.json")).body).expect("the document is JSON")
}

/// Every operation of the document, as (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn every_error_response_is_a_described_problem_document() {
    let doc = document();
    for (m, path, op) in operations(&doc) {
        let opengdpr = op["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "opengdpr"));
        for (status, response) in op["responses"].as_object().expect("responses") {
            let at = format!("{m} {path} {status}");
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{at}: no description"
            );
            if status.as_str() < "400" {
                continue;
            }
            let content = response["content"].as_object().expect("error content");
            let problem = &content
                .get("application/problem+json")
                .map(|c| &c["schema"]["$ref"]);
            let protocol = content
                .get("application/json")
                .map(|c| &c["schema"]["$ref"]);
            if opengdpr && !matches!(status.as_str(), "408" | "413") {
                // The OpenGDPR protocol prescribes its own error shape.
                assert_eq!(
                    protocol,
                    Some(&serde_json::json!("#/components/schemas/ErrorBody")),
                    "{at}"
                );
            } else {
                assert_eq!(
                    *problem,
                    Some(&serde_json::json!("#/components/schemas/Problem")),
                    "{at}: not declared as application/problem+json with the Problem schema"
                );
            }
        }
    }
}

#[test]
fn the_shared_layers_errors_are_declared_where_they_happen() {
    let doc = document();
    for (m, path, op) in operations(&doc) {
        let has = |s: &str| op["responses"].get(s).is_some();
        let at = format!("{m} {path}");
        if op.get("security").is_some() {
            for s in ["401", "403", "429", "500", "503"] {
                assert!(has(s), "{at}: a keyed route declares {s}");
            }
        }
        let json_body = op["requestBody"]["content"]
            .get("application/json")
            .is_some();
        if json_body {
            for s in ["400", "408", "413"] {
                assert!(has(s), "{at}: a JSON body route declares {s}");
            }
            let opengdpr = path.contains("opengdpr") || path.starts_with("/v2/");
            assert!(
                opengdpr || has("415"),
                "{at}: a JSON body route declares 415"
            );
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            if p["in"] == "path" {
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{at}: `{name}` is not in the path"
                );
            }
            if p["in"] == "query" || p["in"] == "path" {
                assert!(has("400"), "{at}: a route with parameters declares 400");
            }
        }
    }
}

#[test]
fn a_query_parameter_is_declared_in_the_query() {
    let doc = document();
    let params = &doc["paths"]["/v1/requests"]["get"]["parameters"];
    assert_eq!(params[0]["name"], "all");
    assert_eq!(params[0]["in"], "query", "{params}");
}

#[test]
fn limits_and_choices_are_schema_constraints() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    // Every code of the error table, and no other, as an enum clients can switch over.
    let codes = schemas["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(codes.len(), custos_types::ErrorCode::ALL.len());
    assert!(codes.contains(&serde_json::json!("legal-hold")));
    let subject = &schemas["PutRecord"]["properties"]["subject"];
    assert_eq!(
        (subject["minLength"].as_u64(), subject["maxLength"].as_u64()),
        (Some(1), Some(1024))
    );
    let limit = &schemas["RecordQuery"]["properties"]["limit"];
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(500))
    );
    let record = &doc["paths"]["/v1/records/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!(record["pattern"], "^[0-9a-f]{32}$");
    let statement = &doc["paths"]["/v1/policy/statement"]["get"]["parameters"];
    assert_eq!(
        statement[0]["schema"]["enum"],
        serde_json::json!(["nl", "en"])
    );
    assert_eq!(
        statement[1]["schema"]["enum"],
        serde_json::json!(["md", "html"])
    );
    let kinds = &schemas["OpenGdprRequest"]["properties"]["subject_request_type"]["enum"];
    assert_eq!(
        kinds,
        &serde_json::json!(["erasure", "access", "portability"])
    );
}

#[test]
fn a_subject_id_of_1024_characters_is_accepted_as_the_schema_says() {
    // The limit counts characters, as JSON Schema's maxLength does: 1024 of them in a four-byte
    // script is a valid subject, 1025 is not.
    assert!(custos_types::SubjectId::new("𝔘".repeat(1024)).is_ok());
    assert!(custos_types::SubjectId::new("a".repeat(1025)).is_err());
}
