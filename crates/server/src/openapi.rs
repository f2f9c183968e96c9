//! The finishing pass over the generated OpenAPI document: the error responses every operation
//! shares, declared once here instead of on each of sixty handlers.
//!
//! The handlers declare their success responses and the errors of their own logic (404 for a
//! missing record, 409 for a legal hold, 422 for a rule of the policy). What the shared layers
//! answer is added from what an operation declares: an API key (401, 403, 429, and 500/503 for
//! the store behind it), a JSON body (400 `invalid-body`, 408, 413, 415), parameters (400
//! `invalid-query` or `invalid-path`). Every error response then carries the problem document's
//! schema under `application/problem+json`, except on the OpenGDPR routes, whose protocol
//! prescribes its own error shape (`ErrorBody`, as `application/json`).

use serde_json::{Map, Value, json};

use custos_types::ErrorCode;

/// The media type of every problem document (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The tag of the OpenGDPR/OpenDSR routes, which answer errors in that protocol's shape.
const OPENGDPR_TAG: &str = "opengdpr";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The finished document: `api` with every operation's shared error responses, a description
/// on every response, and the problem schema's `code` and `status` constrained to the table of
/// error codes.
pub(crate) fn complete(api: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).expect("an OpenAPI document serializes to JSON");
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    complete_operation(op);
                }
            }
        }
    }
    if let Some(problem) = doc.pointer_mut("/components/schemas/Problem/properties") {
        constrain_problem(problem);
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            constrain_properties(schema);
        }
    }
    doc
}

/// The identifier formats of `custos_types::ids`, by the names the API gives them: one place for
/// what every body field and path parameter of that name accepts, so that a request the schema
/// allows is never refused as malformed (and a malformed one never allowed).
fn id_format(name: &str, path_param: bool) -> Option<Value> {
    // `SubjectId::new`: 1 to 1024 characters.
    let subject = json!({ "minLength": 1, "maxLength": 1024 });
    // `RecordId::parse`: the vault's ids, 32 lowercase hex digits.
    let hex32 = json!({ "pattern": "^[0-9a-f]{32}$" });
    match name {
        "subject" => Some(subject),
        "record_id" => Some(hex32),
        // In a body `id` names a tenant or a key; as a path parameter only a record.
        "id" if path_param => Some(hex32),
        // The approval routes take 32 hex digits in either case.
        "approval_id" => Some(json!({ "pattern": "^[0-9a-fA-F]{32}$" })),
        // `RequestId::parse`: 32 hex digits in either case, a UUID's dashes allowed.
        "request_id" => Some(json!({ "pattern": "^-*(?:[0-9a-fA-F]-*){32}$" })),
        // OpenGDPR: a lowercase UUID version 4.
        "subject_request_id" => Some(json!({
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
        })),
        _ => None,
    }
}

/// Adds `format`'s keywords to a string schema (or a nullable one, or an array of strings).
fn constrain(schema: &mut Value, format: &Value) {
    let is_string = |s: &Value| {
        s["type"] == "string"
            || s["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "string"))
    };
    if is_string(schema) {
        for (k, v) in format.as_object().into_iter().flatten() {
            schema[k] = v.clone();
        }
    } else if schema["type"] == "array" && is_string(&schema["items"]) {
        constrain(&mut schema["items"], format);
    }
}

fn constrain_properties(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            if let Some(format) = id_format(name, false) {
                constrain(prop, &format);
            }
            constrain_properties(prop);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get_mut(key).filter(|v| v.is_object()) {
            constrain_properties(inner);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = schema.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(constrain_properties);
        }
    }
}

/// The problem schema speaks the code table: `code` is one of its names, `status` an error
/// status, so a client can switch over them.
fn constrain_problem(props: &mut Value) {
    let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
    names.sort_unstable();
    props["code"]["enum"] = json!(names);
    props["status"]["minimum"] = json!(400);
    props["status"]["maximum"] = json!(599);
    props["type"]["format"] = json!("uri");
}

fn complete_operation(op: &mut Map<String, Value>) {
    let opengdpr = op
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t == OPENGDPR_TAG));
    let secured = op.get("security").is_some();
    let json_body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key("application/json"));
    let params_in = |place: &str| {
        op.get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == place))
    };
    let (query, path) = (params_in("query"), params_in("path"));
    for param in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let name = param["name"].as_str().unwrap_or_default().to_owned();
        // Query filters (the audit trail's `subject` is a pseudonym or nothing) are not ids.
        if param["in"] != "path" {
            continue;
        }
        if let Some(format) = id_format(&name, true) {
            constrain(&mut param["schema"], &format);
        }
    }
    if let Some(body) = op.get_mut("requestBody") {
        for content in body["content"].as_object_mut().into_iter().flatten() {
            constrain_properties(&mut content.1["schema"]);
        }
    }

    let mut added: Vec<(u16, String)> = Vec::new();
    if json_body {
        added.push((400, codes_line(&[ErrorCode::InvalidBody])));
        added.push((
            408,
            "The body did not arrive in time (`request-timeout`).".into(),
        ));
        added.push((
            413,
            "The body exceeds the server's limit (`body-too-large`).".into(),
        ));
        if !opengdpr {
            added.push((
                415,
                "The body was not sent as `Content-Type: application/json` \
                 (`unsupported-media-type`)."
                    .into(),
            ));
        }
    }
    if query {
        added.push((400, codes_line(&[ErrorCode::InvalidQuery])));
    }
    if path {
        added.push((400, codes_line(&[ErrorCode::InvalidPath])));
    }
    if secured {
        added.push((
            401,
            "No API key, or one that is malformed, unknown or revoked (`unauthenticated`).".into(),
        ));
        added.push((
            403,
            "The key's role may not do this, or an admin key called a tenant's route \
             (`forbidden`)."
                .into(),
        ));
        added.push((
            429,
            "The key has used its request rate; retry after `Retry-After` seconds \
             (`too-many-requests`)."
                .into(),
        ));
        added.push((
            500,
            "An internal error; it is logged under the request id (`internal`).".into(),
        ));
        added.push((
            503,
            "The server is starting, stopping, or its database does not answer; nothing was \
             written (`unavailable`)."
                .into(),
        ));
    }

    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, description) in added {
        let entry = responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": "" }));
        let existing = entry["description"].as_str().unwrap_or_default();
        if existing.is_empty() {
            entry["description"] = json!(description);
        } else if !existing.contains(&description) {
            entry["description"] = json!(format!("{existing} {description}"));
        }
    }

    for (status, response) in responses.iter_mut() {
        let code: u16 = status.parse().unwrap_or(0);
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if response
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            response.insert("description".into(), json!(default_description(code)));
        }
        if code < 400 {
            continue;
        }
        let content = response
            .entry("content")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("content is an object");
        // A problem declared without its media type (utoipa's default is application/json).
        if content
            .get("application/json")
            .is_some_and(|c| c["schema"]["$ref"] == "#/components/schemas/Problem")
        {
            let c = content.remove("application/json").expect("present");
            content.insert(PROBLEM_JSON.into(), c);
        }
        // OpenGDPR routes answer their own shape, except for what the layers before the handler
        // refuse (a body over the limit or too slow), which is a problem like everywhere else.
        let protocol_shape = opengdpr && !matches!(code, 408 | 413);
        if protocol_shape {
            content.entry("application/json").or_insert_with(
                || json!({ "schema": { "$ref": "#/components/schemas/ErrorBody" } }),
            );
        } else {
            content
                .entry(PROBLEM_JSON)
                .or_insert_with(|| json!({ "schema": { "$ref": "#/components/schemas/Problem" } }));
        }
        if code == 429 && !protocol_shape {
            response.entry("headers").or_insert_with(|| {
                json!({ "Retry-After": {
                    "description": "Seconds to wait before the key may call again.",
                    "schema": { "type": "integer", "minimum": 1 }
                } })
            });
        }
    }
}

/// The sentence for a 400 that these codes answer.
fn codes_line(codes: &[ErrorCode]) -> String {
    let names: Vec<String> = codes.iter().map(|c| format!("`{}`", c.name())).collect();
    format!(
        "{} ({}).",
        codes.first().map_or("Invalid request", |c| c.title()),
        names.join(", ")
    )
}

fn default_description(status: u16) -> String {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Response");
    if status >= 400 {
        format!("{reason}: a problem document; its `code` names the reason (docs/errors.md).")
    } else {
        reason.to_owned()
    }
}
