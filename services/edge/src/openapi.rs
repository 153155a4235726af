//! The OpenAPI document, generated from the handlers and their types.

use utoipa::OpenApi;

use crate::problem::{Problem, ProblemField};
use crate::routes::{analytics, calls, health};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ocelot Communications API", version = "1.0.0",
         description = "Calls and analytics of the Ocelot communications module. Identity comes from the gateway's X-Org-Id, X-User-Id and X-User-Role headers; errors are application/problem+json."),
    paths(calls::create, calls::list, calls::get, calls::update, calls::end, analytics::dashboard, health::live, health::db, health::rabbitmq),
    components(schemas(calls::CreateCall, calls::UpdateCall, calls::Call, calls::CallPage, analytics::Dashboard, Problem, ProblemField)),
    tags((name = "calls"), (name = "analytics"), (name = "health"))
)]
pub struct ApiDoc;
