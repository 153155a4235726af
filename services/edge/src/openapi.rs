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
    tags((name = "calls"), (name = "analytics"), (name = "auth"), (name = "users"), (name = "credentials"), (name = "api-keys"), (name = "health"))
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
