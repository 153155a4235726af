//! The OpenAPI document's frame; the paths come from the route table in `lib.rs`, so every
//! route is documented with the permission it needs.

use comms_auth::platform;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{Problem, ProblemField};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ocelot Communications API", version = "1.0.0",
         description = "The Ocelot communications module: calls, agents and teams, outbound campaigns with \
their contacts and do-not-call lists, analytics, and the users, API keys and provider credentials behind them.\n\n\
Log in at `/api/communications/auth/login` and send `Authorization: Bearer <access_token>` \
(or an `ock_` API key). Each operation lists the permission it needs as its security requirement's scope; \
errors are `application/problem+json` naming each field at fault; unknown fields and query parameters are refused."),
    components(schemas(Problem, ProblemField)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags((name = "calls"), (name = "numbers", description = "The organization's phone numbers: their calls are queued to agents"), (name = "ivr", description = "IVR flows: what callers to a number hear and press before an agent takes the call (docs/ivr.md)"), (name = "messages", description = "Text messages both ways, threaded into conversations per number; STOP and START (in eight languages) opt a number out of texts and campaigns and back in (docs/messaging.md)"), (name = "knowledge", description = "Knowledge notes: what agent assist shows the agent when the caller says a note's keywords"), (name = "agents"), (name = "teams"), (name = "campaigns"), (name = "contacts"), (name = "analytics"), (name = "live", description = "The organization's events as they happen, over a WebSocket (docs/live.md)"), (name = "auth"), (name = "users"), (name = "credentials"), (name = "api-keys"), (name = "health"), (name = "carrier callbacks", description = "Called by carriers, not by you: each request is verified by the carrier's signature (docs/telephony.md)"))
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (or an `ock_` API key)")
                    .build(),
            ),
        );
    }
}

/// The document of an edge in platform mode (`PLATFORM_MODE=true`), where the Ocelot gateway
/// authenticates: every operation's bearer requirement becomes the gateway's identity headers
/// (and its signature when the edge checks one), and the users and login endpoints, which are
/// the gateway's in that mode, are left out. A client reading the document then expects what
/// this edge does.
pub fn for_platform_mode(
    document: utoipa::openapi::OpenApi,
    signed: bool,
) -> utoipa::openapi::OpenApi {
    use serde_json::{Value, json};
    let mut doc = serde_json::to_value(&document).expect("the document serialises");
    let mut headers = vec![
        (
            "gateway_user",
            platform::USER_HEADER,
            "The user's id, set by the Ocelot gateway",
        ),
        (
            "gateway_org",
            platform::ORG_HEADER,
            "The user's organization, set by the gateway",
        ),
        (
            "gateway_role",
            platform::ROLE_HEADER,
            "The user's role (admin, supervisor, agent, or one PLATFORM_ROLE_MAP maps)",
        ),
    ];
    if signed {
        headers.push((
            "gateway_signature",
            platform::SIGNATURE_HEADER,
            "The gateway's HMAC over identity, request and body (GATEWAY_SHARED_SECRET)",
        ));
    }
    let schemes: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(scheme, header, description)| {
            let header = header.split('-').map(capitalised).collect::<Vec<_>>().join("-");
            (
                (*scheme).to_owned(),
                json!({ "type": "apiKey", "in": "header", "name": header, "description": description }),
            )
        })
        .collect();
    doc["components"]["securitySchemes"] = Value::Object(schemes);
    doc["security"] = json!([requirement(&headers, &[])]);
    doc["info"]["description"] = json!(format!(
        "{}\n\nThis edge runs in platform mode: the Ocelot gateway authenticates, and its `X-User-Id`, \
`X-Org-Id` and `X-User-Role` headers{} say who calls; users and logins are the gateway's.",
        doc["info"]["description"]
            .as_str()
            .unwrap_or_default()
            .split("\n\n")
            .next()
            .unwrap_or_default(),
        if signed {
            ", signed in `X-Ocelot-Signature`,"
        } else {
            ""
        },
    ));
    let paths = doc["paths"].as_object_mut().expect("paths");
    paths.retain(|path, _| !GATEWAY_OWNED.iter().any(|owned| path.starts_with(owned)));
    for item in paths.values_mut() {
        for operation in item.as_object_mut().expect("path item").values_mut() {
            let Some(security) = operation.get_mut("security").and_then(Value::as_array_mut) else {
                continue;
            };
            for entry in security.iter_mut() {
                if let Some(scopes) = entry.get("bearer").and_then(Value::as_array).cloned() {
                    *entry = requirement(&headers, &scopes);
                }
            }
        }
    }
    serde_json::from_value(doc).expect("the reshaped document is still a document")
}

/// Paths the gateway owns in platform mode: they answer 404 there.
const GATEWAY_OWNED: [&str; 4] = [
    "/api/communications/auth/login",
    "/api/communications/auth/refresh",
    "/api/communications/auth/logout",
    "/api/communications/users",
];

/// All the gateway's headers at once; the permission rides on the role.
fn requirement(headers: &[(&str, &str, &str)], scopes: &[serde_json::Value]) -> serde_json::Value {
    headers
        .iter()
        .map(|(scheme, _, _)| {
            let scopes = if *scheme == "gateway_role" {
                scopes.to_vec()
            } else {
                Vec::new()
            };
            ((*scheme).to_owned(), serde_json::Value::Array(scopes))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// What the route table cannot say by itself: the answers every operation can give, and that a
/// query parameter, when given, is not empty (the edge refuses `?status=`).
pub fn finish(document: &mut utoipa::openapi::OpenApi) {
    flow_definition_schema(document);
    add_common_responses(document);
    query_parameters_not_empty(document);
}

/// An IVR flow's definition as the event contract's type says it (the schema the IVR flow
/// events publish), in place of the bare object the route table declares for it.
fn flow_definition_schema(document: &mut utoipa::openapi::OpenApi) {
    let schema = serde_json::from_value(flow_definition()).expect("utoipa reads the flow's schema");
    document
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .insert("FlowDefinition".into(), schema);
}

/// The flow definition's JSON schema as OpenAPI takes it: without `$schema`, and each `const`
/// (which utoipa's types lack) as the one-value `enum` it means.
fn flow_definition() -> serde_json::Value {
    fn const_as_enum(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(only) = object.remove("const") {
                    object.insert("enum".into(), serde_json::json!([only]));
                }
                object.values_mut().for_each(const_as_enum);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(const_as_enum),
            _ => {}
        }
    }
    let mut schema = comms_events::schema_of::<comms_events::ivr::FlowDefinition>();
    let object = schema.as_object_mut().expect("a schema object");
    object.remove("$schema");
    object.remove("title");
    const_as_enum(&mut schema);
    schema
}

/// Every operation of the document.
fn operations_mut(
    document: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
    })
}

fn query_parameters_not_empty(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{RefOr, Schema};
    for operation in operations_mut(document) {
        {
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                if parameter.parameter_in != ParameterIn::Query {
                    continue;
                }
                if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
                    && object.min_length.is_none()
                    && matches!(
                        object.schema_type,
                        utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::Type::String)
                    )
                {
                    object.min_length = Some(1);
                }
            }
        }
    }
}

/// Answers any operation can give besides its own, added to every operation so the document
/// says what the middleware does: bodies too large or not JSON, the organization's rate limit,
/// and the request deadline.
fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build()
    };
    for operation in operations_mut(document) {
        {
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description).into());
            };
            if operation.request_body.is_some() {
                add("413", "The body exceeds 64 KiB");
                add("415", "The body is not JSON");
            }
            let public = serde_json::to_value(&operation.security)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|requirements| {
                    requirements
                        .iter()
                        .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                });
            if !public {
                add(
                    "429",
                    "The organization's request rate limit is reached; see Retry-After",
                );
            }
            add(
                "504",
                "The request took longer than REQUEST_TIMEOUT_SECONDS",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    /// utoipa keeps every keyword of the flow's schema (it reads JSON Schema into its own
    /// types, which could drop what they lack).
    #[test]
    fn the_flow_definition_schema_is_the_event_contracts() {
        let document = serde_json::to_value(crate::openapi_document()).unwrap();
        let served = &document["components"]["schemas"]["FlowDefinition"];
        assert_eq!(served, &super::flow_definition());
        assert!(served.to_string().contains(r#""enum":["say"]"#), "{served}");
    }

    #[test]
    fn the_document_builds_in_both_modes() {
        let document = crate::openapi_document();
        let platform = super::for_platform_mode(document.clone(), true);
        let json = serde_json::to_value(&platform).unwrap();
        assert!(json["paths"].get("/api/communications/users").is_none());
        let schemes = json["components"]["securitySchemes"].as_object().unwrap();
        assert!(schemes.contains_key("gateway_signature") && !schemes.contains_key("bearer"));
    }
}
