//! Query parameters as the OpenAPI document declares them, and nothing else: a parameter an
//! operation does not declare is refused with a 400 naming it, as an unknown JSON field is
//! (`?limit=2` on a list whose parameter is `page_size` would otherwise quietly return a page of
//! the default size), and so is a declared one given empty (`?team_id=`), which is neither
//! absent nor a value. The table is read from the document the edge serves, so the two cannot
//! disagree. Carriers' callbacks (`/webhooks/…`) are not checked: the carrier decides what
//! they carry.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use comms_proto::{ApiError, Violations};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{OpenApi, RefOr};

use crate::problem::ProblemResponse;

/// Each operation's query parameters, by method and path template.
#[derive(Debug, Default)]
pub struct Declared(HashMap<(http::Method, String), HashSet<String>>);

impl Declared {
    pub fn of(document: &OpenApi) -> Arc<Self> {
        let mut table = HashMap::new();
        for (path, item) in &document.paths.paths {
            // Carriers choose their callbacks' parameters, and add new ones without notice;
            // the signature, not this table, vouches for them.
            if path.starts_with("/webhooks/") {
                continue;
            }
            let operations = [
                (http::Method::GET, &item.get),
                (http::Method::PUT, &item.put),
                (http::Method::POST, &item.post),
                (http::Method::DELETE, &item.delete),
                (http::Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let names = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) if p.parameter_in == ParameterIn::Query => Some(p.name.clone()),
                        _ => None,
                    })
                    .collect();
                table.insert((method, path.clone()), names);
            }
        }
        Arc::new(Self(table))
    }

    /// The query's violations: names the operation does not declare, and empty values.
    pub fn check(&self, method: &http::Method, path: &str, query: &str) -> Result<(), ApiError> {
        let Some(declared) = self.0.get(&(method.clone(), path.to_owned())) else {
            return Ok(());
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::invalid("query", format!("cannot be read: {e}")))?;
        let mut violations = Violations::default();
        for (name, value) in pairs {
            if !declared.contains(&name) {
                let known = if declared.is_empty() {
                    "this operation takes no query parameters".to_owned()
                } else {
                    let mut names: Vec<&str> = declared.iter().map(String::as_str).collect();
                    names.sort_unstable();
                    format!(
                        "not a parameter of this operation (it takes {})",
                        names.join(", ")
                    )
                };
                violations.add(&name, known);
            } else if value.is_empty() {
                violations.add(&name, "empty; leave the parameter out or give it a value");
            }
        }
        violations.finish()
    }
}

/// Refuses a request whose query [`Declared::check`] refuses; requests that match no route pass
/// on to the 404.
pub async fn refuse_undeclared(declared: Arc<Declared>, request: Request, next: Next) -> Response {
    if let (Some(route), Some(query)) = (
        request.extensions().get::<MatchedPath>(),
        request.uri().query(),
    ) && let Err(error) = declared.check(request.method(), route.as_str(), query)
    {
        return ProblemResponse(error).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Declared {
        let mut table = HashMap::new();
        table.insert(
            (http::Method::GET, "/calls".to_owned()),
            ["status", "page_size"].map(str::to_owned).into(),
        );
        table.insert((http::Method::GET, "/teams".to_owned()), HashSet::new());
        Declared(table)
    }

    fn fields(result: Result<(), ApiError>) -> Vec<(String, String)> {
        result
            .unwrap_err()
            .violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect()
    }

    #[test]
    fn undeclared_and_empty_parameters_are_named() {
        let table = declared();
        let get = http::Method::GET;
        assert!(
            table
                .check(&get, "/calls", "status=ringing&page_size=2")
                .is_ok()
        );
        assert_eq!(
            fields(table.check(&get, "/calls", "limit=2")),
            [(
                "limit".to_owned(),
                "not a parameter of this operation (it takes page_size, status)".to_owned()
            )]
        );
        assert_eq!(
            fields(table.check(&get, "/calls", "status="))[0].0,
            "status"
        );
        assert_eq!(
            fields(table.check(&get, "/teams", "x=1"))[0].1,
            "this operation takes no query parameters"
        );
        // Percent-encoded names are decoded before they are compared.
        assert!(table.check(&get, "/calls", "st%61tus=answered").is_ok());
        // Routes the table does not know are left to the router.
        assert!(table.check(&get, "/nowhere", "limit=2").is_ok());
    }
}
