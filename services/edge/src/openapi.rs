//! The OpenAPI document's frame; the paths come from the route table in `lib.rs`, so every
//! route is documented with the permission it needs.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{Problem, ProblemField};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ocelot Communications API", version = "1.0.0",
         description = "Calls, analytics and access control of the Ocelot communications module.\n\n\
Standalone mode: log in at `/api/communications/auth/login` and send `Authorization: Bearer <access_token>`. \
Platform mode (`PLATFORM_MODE=true`): the Ocelot gateway's `X-User-Id`, `X-Org-Id` and `X-User-Role` headers. \
Each operation lists the permission it needs as its security requirement's role; \
errors are `application/problem+json`."),
    components(schemas(Problem, ProblemField)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags((name = "calls"), (name = "agents"), (name = "teams"), (name = "campaigns"), (name = "contacts"), (name = "analytics"), (name = "auth"), (name = "users"), (name = "credentials"), (name = "api-keys"), (name = "health"))
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

/// Answers any operation can give besides its own, added to every operation so the document
/// says what the middleware does: bodies too large or not JSON, the organization's rate limit,
/// and the request deadline.
pub fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
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
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
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
