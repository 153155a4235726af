//! `/api/communications/calls/{id}/recording`: a call's recording, streamed from the carrier
//! through the edge, so the carrier's URL and credentials never reach the client; started,
//! paused, resumed and stopped while the call goes on; deleted.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use comms_proto::v1;
use comms_proto::{ApiError, ErrorKind};
use serde::Deserialize;
use utoipa::ToSchema;

use super::calls::Call;
use crate::auth::Caller;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingControl {
    /// `start` (a call whose policy is `on_demand`), `pause`, `resume` or `stop` (for good: a
    /// call has one recording).
    #[schema(example = "pause", pattern = "^(start|pause|resume|stop)$")]
    pub action: String,
}

/// Start, pause, resume or stop the call's recording (pause while a card number is read
/// aloud). The carrier does it before this answers: 503 when it could not, and then nothing
/// changed. Asking for the state the recording is in changes nothing. An agent controls their
/// own calls' recordings only.
#[utoipa::path(post, path = "/api/communications/calls/{id}/recording", tag = "calls", params(("id" = uuid::Uuid, Path)),
    request_body = RecordingControl,
    security(("bearer" = ["calls:write"])),
    responses(
        (status = 200, description = "The call, with its recording's state", body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another agent's call", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call is not answered, its policy forbids it, or the recording was stopped", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier did not take the request: nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn control(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RecordingControl>,
) -> Result<axum::Json<Call>> {
    let request = v1::ControlRecordingRequest {
        call_id: id,
        action: body.action,
    };
    let call = state
        .calls
        .clone()
        .control_recording(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(call.into_inner().into()))
}

/// Delete the call's recording, at the carrier too; nobody can hear it afterwards.
#[utoipa::path(delete, path = "/api/communications/calls/{id}/recording", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["calls:recordings:delete"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or no recording of it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier did not delete it: nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .calls
        .clone()
        .delete_recording(caller.grpc(v1::GetCallRequest { id })?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The call's recording (Twilio: WAV, the two parties on two channels; a voicemail from
/// Vonage: MP3), streamed from the carrier as it arrives. An agent hears only their own calls'
/// recordings.
#[utoipa::path(get, path = "/api/communications/calls/{id}/recording", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["calls:read"])),
    responses(
        (status = 200, description = "The audio: Twilio's WAV (the two parties on two channels), or a voicemail's MP3 from Vonage", content_type = "audio/wav"),
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
            // The recording is kept by the account that carried the call: the organization's
            // own, where it stored one.
            let own = crate::carriers::own_twilio_account(&state, &caller.identity.org_id).await?;
            let twilio = own
                .as_ref()
                .or(state.carriers.twilio.as_ref())
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
        "vonage" => {
            // Fetched with the application that made it: the organization's own, where it
            // stored one.
            let own =
                crate::carriers::own_vonage_application(&state, &caller.identity.org_id).await?;
            let vonage = own
                .as_ref()
                .or(state.carriers.vonage.as_ref())
                .ok_or_else(|| unavailable("this fleet has no Vonage application".into()))?;
            // The id goes into a path: only a Vonage recording's UUID.
            if uuid::Uuid::parse_str(&recording.recording_id).is_err() {
                return Err(unavailable(format!(
                    "{:?} is not a Vonage recording",
                    recording.recording_id
                )));
            }
            let key = comms_auth::carriers::vonage_signing_key(vonage)
                .map_err(|e| unavailable(e.to_string()))?;
            let token =
                comms_auth::carriers::vonage_application_token(&vonage.application_id, &key, 60)
                    .map_err(|e| unavailable(format!("the application's JWT: {e}")))?;
            let url = format!("{}/v1/files/{}", vonage.api_url, recording.recording_id);
            state.media.get(url).bearer_auth(token)
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
