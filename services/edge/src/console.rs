//! The web console at `/console`: plain ES modules, styles and translations from
//! `services/edge/console/`, compiled into the binary so the edge serves them offline and a
//! release is one file ([ADR 17](../../../docs/adr/0017-the-console-is-plain-modules-in-the-binary.md)).
//! The page speaks to the same REST API and live feed as any client.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

/// Every file of the console: its name under `/console/` and its content type.
const FILES: [(&str, &str, &str); 10] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/api.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/live.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/i18n.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/dom.js"),
    ),
    (
        "wallboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/wallboard.js"),
    ),
    (
        "desk.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/desk.js"),
    ),
    (
        "team.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/team.js"),
    ),
];

/// The console's routes: the page at `/console` (and `/console/`), its files under it.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(|| async { file("index.html") }))
        .route("/console/", get(|| async { file("index.html") }))
        .route(
            "/console/{name}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // A new edge may serve new files: the browser asks again each time.
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file in the console").into_response(),
    }
}
