//! `/api/communications/calls/{id}/recording`: a call's recording, streamed from the carrier
//! through the edge, so the carrier's URL and credentials never reach the client.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use comms_proto::v1;
use comms_proto::{ApiError, ErrorKind};

use crate::auth::Caller;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// The call's recording (WAV, the two parties on two channels), streamed from the carrier as it
/// arrives. An agent hears only their own calls' recordings.
#[utoipa::path(get, path = "/api/communications/calls/{id}/recording", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["calls:read"])),
    responses(
        (status = 200, description = "The audio (WAV: the two parties on two channels)", content_type = "audio/wav"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another agent's call", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or no recording of it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier did not give the recording", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let recording = state
        .calls
        .clone()
        .get_recording(caller.grpc(v1::GetCallRequest { id })?)
        .await?
        .into_inner();
    let unavailable = |why: String| -> ProblemResponse {
        ApiError::new(ErrorKind::Unavailable, format!("the recording: {why}")).into()
    };
    let request = match recording.carrier.as_str() {
        "twilio" => {
            let twilio = state
                .carriers
                .twilio
                .as_ref()
                .ok_or_else(|| unavailable("this fleet has no Twilio account".into()))?;
            // The id goes into a path: only a Twilio recording SID.
            if !comms_runtime::carriers::is_sid(&recording.recording_id, "RE") {
                return Err(unavailable(format!(
                    "{:?} is not a Twilio recording",
                    recording.recording_id
                )));
            }
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Recordings/{}.wav",
                twilio.api_url, twilio.account_sid, recording.recording_id
            );
            state
                .media
                .get(url)
                .basic_auth(&twilio.account_sid, Some(&twilio.auth_token))
        }
        other => {
            return Err(unavailable(format!(
                "{other}'s recordings are not fetched yet"
            )));
        }
    };
    let response = request
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!(
            "{} answered {}",
            recording.carrier,
            response.status()
        )));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("audio/wav"));
    let length = response.content_length();
    // Each chunk on as it arrives; a failure mid-way ends the body, which the client sees cut.
    let chunks = futures::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    });
    let mut streamed = Body::from_stream(chunks).into_response();
    streamed
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = length {
        streamed
            .headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    }
    Ok(streamed)
}
