//! Calls' recordings: the carrier's callback that one is ready, and where to fetch it.

use super::*;

pub(super) async fn report_recording(
    svc: &CallsGrpc,
    request: Request<v1::ReportRecordingRequest>,
) -> Result<Response<v1::Call>, Status> {
    let (identity, _) = svc.caller(&request, Permission::CallsCarrier)?;
    let req = request.into_inner();
    let id = parse_id("call_id", &req.call_id)?;
    let leg = carrier_leg(&req.carrier, &req.carrier_call_id)
        .map_err(|reason| ApiError::invalid("carrier_call_id", reason))?;
    match req.status.as_str() {
        "completed" => {}
        // Too short or silent (Twilio's absent), or lost: nothing to keep.
        "absent" | "failed" => {
            return Ok(Response::new(to_proto(svc.calls.get(&identity, id).await?)));
        }
        other => {
            return Err(ApiError::invalid(
                "status",
                format!("{other:?} is not a recording status (completed, absent, failed)"),
            )
            .into());
        }
    }
    let view = svc
        .calls
        .recording_ready(&identity, id, leg, req.recording_id, req.duration_seconds)
        .await?;
    Ok(Response::new(to_proto(view)))
}

pub(super) async fn get_recording(
    svc: &CallsGrpc,
    request: Request<v1::GetCallRequest>,
) -> Result<Response<v1::CallRecording>, Status> {
    let (identity, reach) = svc.caller(&request, Permission::CallsRead)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let view = svc.calls.get(&identity, id).await?;
    // Another agent's call exists (the organization's), but its recording is not theirs to hear.
    if !reach.covers(&view) {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "an agent hears only the recordings of their own calls",
        )
        .into());
    }
    let recording = view
        .call
        .recording
        .as_ref()
        .ok_or_else(|| ApiError::not_found("recording of call", &id.to_string()))?;
    Ok(Response::new(v1::CallRecording {
        call_id: id.to_string(),
        carrier: recording.carrier.as_str().into(),
        recording_id: recording.id.clone(),
        duration_seconds: recording.duration_seconds,
    }))
}
