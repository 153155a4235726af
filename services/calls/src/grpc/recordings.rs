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
        "in-progress" => {
            let view = svc.calls.recording_began(&identity, id, leg).await?;
            return Ok(Response::new(to_proto(view)));
        }
        // Too short or silent (Twilio's absent), or lost: nothing to keep.
        "absent" | "failed" => {
            return Ok(Response::new(to_proto(svc.calls.get(&identity, id).await?)));
        }
        other => {
            return Err(ApiError::invalid(
                "status",
                format!(
                    "{other:?} is not a recording status (in-progress, completed, absent, failed)"
                ),
            )
            .into());
        }
    }
    let call = svc.calls.get(&identity, id).await?.call;
    let callback = svc.flows.callback_for(&identity.org_id, &call).await?;
    let view = svc
        .calls
        .recording_ready(
            &identity,
            id,
            leg,
            req.recording_id,
            req.duration_seconds,
            callback,
        )
        .await?;
    Ok(Response::new(to_proto(view)))
}

pub(super) async fn control_recording(
    svc: &CallsGrpc,
    request: Request<v1::ControlRecordingRequest>,
) -> Result<Response<v1::Call>, Status> {
    let (identity, reach) = svc.caller(&request, Permission::CallsWrite)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let id = violations.check("call_id", Uuid::parse_str(&req.call_id));
    let action = violations.check(
        "action",
        RecordingAction::parse(&req.action)
            .ok_or_else(|| format!("{:?} is not one of start, pause, resume, stop", req.action)),
    );
    violations.finish()?;
    let (Some(id), Some(action)) = (id, action) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let view = svc.calls.get(&identity, id).await?;
    if !reach.covers(&view) {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "an agent controls the recordings of their own calls only",
        )
        .into());
    }
    let view = svc.calls.control_recording(&identity, view, action).await?;
    Ok(Response::new(to_proto(view)))
}

/// Deleting is the organization's decision (an administrator's: `calls:recordings:delete`).
pub(super) async fn delete_recording(
    svc: &CallsGrpc,
    request: Request<v1::GetCallRequest>,
) -> Result<Response<v1::Call>, Status> {
    let (identity, _) = svc.caller(&request, Permission::RecordingsDelete)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let view = svc.calls.get(&identity, id).await?;
    let view = svc.calls.delete_recording(&identity, view).await?;
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
