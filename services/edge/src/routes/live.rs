//! `/api/communications/live`: the live feed's WebSocket and its tickets (docs/live.md).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts as _, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Utc};
use comms_auth::{Identity, Role};
use comms_eventstore::Checkpoint;
use comms_proto::{ApiError, ErrorKind, v1};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::json::Query;
use crate::live::audience::Viewer;
use crate::live::{parse_position, socket, tickets};
use crate::problem::{Problem, ProblemResponse, too_many_requests, upgrade_required};
use crate::state::AppState;

/// The subprotocol the feed speaks; a client offering `bearer.<token>` must offer it too.
pub const PROTOCOL: &str = "comms.live.v1";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Resume after this position (the last `position` received): every event after it is
    /// sent, none before. Absent: from now.
    #[param(pattern = r"^[0-9]{1,18}-[0-9]{1,18}$")]
    pub after: Option<String>,
    /// A ticket from `POST /api/communications/live/ticket`, for browsers, which cannot send
    /// headers with a WebSocket.
    pub ticket: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LiveTicket {
    /// Open the feed with `?ticket=<this>` once, before it expires.
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// A ticket to open the live feed from a browser: single-use, valid for 30 seconds.
#[utoipa::path(post, path = "/api/communications/live/ticket", tag = "live", security(("bearer" = [])),
    responses(
        (status = 201, body = LiveTicket),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ticket(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, axum::Json<LiveTicket>), ProblemResponse> {
    let (ticket, expires_at) = tickets::issue(state.live.store.pool(), &caller.identity).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(LiveTicket { ticket, expires_at }),
    ))
}

/// The organization's events as they happen, over a WebSocket (subprotocol `comms.live.v1`):
/// an agent sees their own calls and state, a supervisor the organization's calls and their
/// teams' agents, an administrator everything on the feed. Authenticate with a ticket, with
/// `Sec-WebSocket-Protocol: comms.live.v1, bearer.<access token>`, or with `Authorization`.
/// Messages, positions and close codes: docs/live.md.
#[utoipa::path(get, path = "/api/communications/live", tag = "live", params(LiveParams),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket"),
        (status = 400, body = Problem, content_type = "application/problem+json",
            description = "A malformed `after`"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "An `after` past the log's end"),
        (status = 426, body = Problem, content_type = "application/problem+json",
            description = "A plain HTTP request: this endpoint is a WebSocket"),
        (status = 429, body = Problem, content_type = "application/problem+json",
            description = "The organization has as many live sockets on this edge as allowed"),
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    Query(params): Query<LiveParams>,
    request: Request,
) -> Response {
    match open(state, params, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn open(state: AppState, params: LiveParams, request: Request) -> Result<Response, Response> {
    let problem = |error: ApiError| ProblemResponse(error).into_response();
    let (mut parts, _) = request.into_parts();
    let identity = match (&params.ticket, bearer_protocol(&parts.headers)) {
        (Some(ticket), _) => tickets::redeem(state.live.store.pool(), ticket).await,
        (None, Some(token)) => crate::auth::identify_bearer(&state.auth, token).await,
        (None, None) => crate::auth::authenticate(&state.auth, &parts).await,
    }
    .map_err(problem)?;
    if let Err(wait) = state.auth.per_organization.check(&identity.org_id) {
        return Err(too_many_requests(
            "the organization's request rate limit is reached",
            wait,
        ));
    }
    let after = match &params.after {
        None => None,
        Some(after) => Some(checked_position(&state, after).await.map_err(problem)?),
    };
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|_| {
            upgrade_required(
                "websocket",
                "this endpoint is a WebSocket: open it with `Connection: Upgrade`, `Upgrade: websocket` and subprotocol comms.live.v1 (docs/live.md)",
            )
        })?;
    let Some(slot) = state.live.take_slot(&identity.org_id) else {
        return Err(too_many_requests(
            &format!(
                "the organization has {} live sockets on this edge, the most allowed",
                state.live.config.per_organization
            ),
            std::time::Duration::from_secs(5),
        ));
    };
    let teams = supervised_teams(&state, &identity)
        .await
        .map_err(|e| e.into_response())?;
    let viewer = Viewer::new(identity, teams);
    let (live, shutdown) = (state.live.clone(), state.shutdown.clone());
    Ok(upgrade
        .protocols([PROTOCOL])
        // Clients send only pongs: a small read buffer (the default reserves 128 KiB a socket).
        .read_buffer_size(4096)
        .max_message_size(4096)
        .on_upgrade(move |socket| socket::serve(live, socket, viewer, after, slot, shutdown)))
}

/// `after` as a position the log has reached.
async fn checked_position(state: &AppState, after: &str) -> Result<Checkpoint, ApiError> {
    let position = parse_position(after).ok_or_else(|| {
        ApiError::invalid(
            "after",
            format!("{after:?} is not a position like 1234-567 (from a message's `position`)"),
        )
    })?;
    let mut conn = state
        .live
        .store
        .pool()
        .acquire()
        .await
        .map_err(|_| ApiError::new(ErrorKind::Unavailable, "the log cannot be read now"))?;
    let head = Checkpoint::visible_head(&mut conn)
        .await
        .map_err(|_| ApiError::new(ErrorKind::Unavailable, "the log cannot be read now"))?;
    if position > head {
        return Err(ApiError::unknown_reference(
            "after",
            format!("{after:?} is beyond the end of the log: a position from another fleet?"),
        ));
    }
    Ok(position)
}

/// The token in `Sec-WebSocket-Protocol: comms.live.v1, bearer.<token>`.
fn bearer_protocol(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix("bearer."))
}

/// The teams a supervisor leads, as the agents service answers them.
async fn supervised_teams(
    state: &AppState,
    identity: &Identity,
) -> Result<Vec<uuid::Uuid>, ProblemResponse> {
    if identity.role != Role::Supervisor {
        return Ok(Vec::new());
    }
    let caller = Caller::of(state.auth.clone(), identity.clone());
    let mut teams = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = state
            .agents
            .clone()
            .list_teams(caller.grpc(v1::ListTeamsRequest {
                page: Some(v1::PageRequest {
                    page_size: 200,
                    page_token,
                }),
            })?)
            .await?
            .into_inner();
        teams.extend(
            page.teams
                .iter()
                .filter_map(|t| uuid::Uuid::parse_str(&t.id).ok()),
        );
        match super::next_page_token(page.page) {
            Some(next) => page_token = next,
            None => return Ok(teams),
        }
    }
}
