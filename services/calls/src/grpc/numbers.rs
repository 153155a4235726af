//! The organization's phone numbers, and the calls made to them.

use comms_events::number::NumberSettings;

use super::*;
use crate::domain::FlowVersion;
use crate::ivr::turns;
use crate::ivr::walk::Then;
use crate::numbers::Number;
use comms_events::agent::check_required_skills;

fn number_to_proto(number: &Number) -> v1::Number {
    v1::Number {
        id: number.id.to_string(),
        number: number.number.as_str().to_owned(),
        language: number.settings.language.as_str().to_owned(),
        skills: number.settings.skills.clone(),
        recording: number
            .settings
            .recording
            .map(|policy| policy.as_str().to_owned())
            .unwrap_or_default(),
        created_at: Some(time::to_timestamp(number.created_at)),
        updated_at: Some(time::to_timestamp(number.updated_at)),
        ivr_flow_id: number
            .settings
            .ivr_flow_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

/// A flow id, or none for "".
fn flow_id_of(violations: &mut Violations, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    violations.check(
        "ivr_flow_id",
        Uuid::parse_str(value).map_err(|_| format!("{value:?} is not a UUID")),
    )
}

fn language_of(violations: &mut Violations, value: &str) -> Option<Language> {
    violations.check("language", Language::parse(value))
}

fn skills_of(violations: &mut Violations, skills: &[String]) -> Vec<String> {
    violations.check("skills", check_required_skills(skills));
    skills.to_vec()
}

pub(super) async fn assign_number(
    svc: &CallsGrpc,
    request: Request<v1::AssignNumberRequest>,
) -> Result<Response<v1::Number>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersManage)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let number = violations.check("number", PhoneNumber::parse(&req.number));
    let language = if req.language.is_empty() {
        Some(Language::En)
    } else {
        language_of(&mut violations, &req.language)
    };
    let skills = skills_of(&mut violations, &req.skills);
    let recording = recording_policy(&mut violations, "recording", &req.recording);
    let ivr_flow_id = flow_id_of(&mut violations, &req.ivr_flow_id);
    violations.finish()?;
    let (Some(number), Some(language)) = (number, language) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let settings = NumberSettings {
        language,
        skills,
        recording,
        ivr_flow_id,
    };
    let assigned = svc.numbers.assign(&identity, number, settings).await?;
    Ok(Response::new(number_to_proto(&assigned)))
}

pub(super) async fn get_number(
    svc: &CallsGrpc,
    request: Request<v1::GetNumberRequest>,
) -> Result<Response<v1::Number>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersRead)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let number = svc.numbers.get(&identity.org_id, id).await?;
    Ok(Response::new(number_to_proto(&number)))
}

pub(super) async fn list_numbers(
    svc: &CallsGrpc,
    request: Request<v1::ListNumbersRequest>,
) -> Result<Response<v1::ListNumbersResponse>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersRead)?;
    let numbers = svc.numbers.list(&identity.org_id).await?;
    Ok(Response::new(v1::ListNumbersResponse {
        numbers: numbers.iter().map(number_to_proto).collect(),
    }))
}

pub(super) async fn update_number(
    svc: &CallsGrpc,
    request: Request<v1::UpdateNumberRequest>,
) -> Result<Response<v1::Number>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersManage)?;
    let req = request.into_inner();
    let id = parse_id("id", &req.id)?;
    if req.language.is_empty()
        && req.skills.is_none()
        && req.recording.is_none()
        && req.ivr_flow_id.is_none()
    {
        return Err(ApiError::invalid(
            "language",
            "set at least one of language, skills, recording or ivr_flow_id",
        )
        .into());
    }
    let current = svc.numbers.get(&identity.org_id, id).await?;
    let mut violations = Violations::default();
    let language = if req.language.is_empty() {
        Some(current.settings.language)
    } else {
        language_of(&mut violations, &req.language)
    };
    let skills = match &req.skills {
        Some(skills) => skills_of(&mut violations, &skills.values),
        None => current.settings.skills.clone(),
    };
    let recording = match &req.recording {
        Some(recording) => recording_policy(&mut violations, "recording", recording),
        None => current.settings.recording,
    };
    let ivr_flow_id = match &req.ivr_flow_id {
        Some(flow) => flow_id_of(&mut violations, flow),
        None => current.settings.ivr_flow_id,
    };
    violations.finish()?;
    let language = language.expect("recorded as a violation when absent");
    let settings = NumberSettings {
        language,
        skills,
        recording,
        ivr_flow_id,
    };
    let updated = svc.numbers.update(&identity, id, settings).await?;
    Ok(Response::new(number_to_proto(&updated)))
}

pub(super) async fn release_number(
    svc: &CallsGrpc,
    request: Request<v1::GetNumberRequest>,
) -> Result<Response<v1::Number>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersManage)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let released = svc.numbers.release(&identity, id).await?;
    Ok(Response::new(number_to_proto(&released)))
}

/// Starts the inbound call (or finds it, asked again), then queues it to an agent with the
/// number's language and skills (with an IVR flow: the flow queues it, see `WalkIvr`); the
/// agent routing connects is bridged to it.
pub(super) async fn receive_call(
    svc: &CallsGrpc,
    request: Request<v1::ReceiveCallRequest>,
) -> Result<Response<v1::Call>, Status> {
    let (identity, _) = svc.caller(&request, Permission::CallsCarrier)?;
    let metadata = request.metadata().clone();
    let req = request.into_inner();
    let mut violations = Violations::default();
    let leg = violations.check(
        "carrier_call_id",
        carrier_leg(&req.carrier, &req.carrier_call_id),
    );
    let to = violations.check("to", PhoneNumber::parse(&req.to));
    // A withheld or malformed caller id is the caller's, not a reason to refuse the call.
    let from = PhoneNumber::parse(&req.from).ok();
    violations.finish()?;
    let (Some(leg), Some(to)) = (leg, to) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let number = svc
        .numbers
        .find(&identity.org_id, &to)
        .await?
        .ok_or_else(|| ApiError::not_found("number", to.as_str()))?;
    let view = answer(svc, &identity, &metadata, &number, leg, from).await?;
    Ok(Response::new(to_proto(view)))
}

/// The call on `leg` to `number` answered: started (walking the number's IVR flow's published
/// version, if it has one), or found again when the carrier asks twice; without a flow, queued
/// to an agent with the number's language and skills.
async fn answer(
    svc: &CallsGrpc,
    identity: &comms_auth::Identity,
    metadata: &MetadataMap,
    number: &Number,
    leg: CarrierLeg,
    from: Option<PhoneNumber>,
) -> Result<crate::view::CallView, Status> {
    let ivr_flow = match number.settings.ivr_flow_id {
        Some(id) => svc
            .flows
            .get(&identity.org_id, id)
            .await?
            .published
            .map(|version| FlowVersion {
                flow_id: id,
                version,
            }),
        None => None,
    };
    let view = svc
        .calls
        .receive(identity, number, leg, from, ivr_flow)
        .await?;
    // A call with a flow asks for an agent when its flow queues it.
    let waits_for_agent = view.call.ivr.is_none() && view.call.agent_id.is_none();
    if waits_for_agent && view.call.status == CallStatus::Answered {
        let queued = v1::ReserveAgentRequest {
            call_id: view.call.id.to_string(),
            required_skills: number.settings.skills.clone(),
            language: number.settings.language.as_str().to_owned(),
            priority: 0,
            connect: true,
        };
        // Asked again (the carrier repeated its request), routing answers the reservation
        // it already holds.
        svc.agents
            .clone()
            .reserve_agent(forwarded(metadata, queued))
            .await?;
    }
    Ok(view)
}

/// A call to one of the organization's numbers from a simulated caller, on a fleet without a
/// carrier (`scripts/dev`): answered as a carrier's would be, it walks the number's IVR flow
/// with `inputs` as the caller's answers, through the same turns, and stays on the line (in the
/// queue, or with its agent) until someone hangs up; a flow that ends (voicemail, transfer,
/// hang up) ends it.
pub(super) async fn simulate_inbound_call(
    svc: &CallsGrpc,
    request: Request<v1::SimulateInboundCallRequest>,
) -> Result<Response<v1::Call>, Status> {
    let (identity, _) = svc.caller(&request, Permission::NumbersRead)?;
    let metadata = request.metadata().clone();
    let req = request.into_inner();
    let carrier = svc.calls.carrier();
    if carrier != Carrier::Simulated {
        return Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            format!(
                "calls here come from {}: simulated callers are for a fleet without a carrier",
                carrier.as_str()
            ),
        )
        .into());
    }
    let mut violations = Violations::default();
    let id = violations.check(
        "id",
        Uuid::parse_str(&req.id).map_err(|_| format!("{:?} is not a UUID", req.id)),
    );
    let from = if req.from.is_empty() {
        None
    } else {
        violations.check("from", PhoneNumber::parse(&req.from))
    };
    let inputs = super::ivr::answers_of(&mut violations, &req.inputs);
    violations.finish()?;
    let id = id.expect("recorded as a violation when absent");
    let number = svc.numbers.get(&identity.org_id, id).await?;
    let leg = CarrierLeg {
        carrier: Carrier::Simulated,
        id: Uuid::new_v4().simple().to_string(),
    };
    let view = answer(svc, &identity, &metadata, &number, leg, from).await?;
    let call_id = view.call.id;
    if view.call.ivr.is_some() {
        let mut turn = turns::walk(&svc.calls, &svc.flows, &identity, call_id, None).await?;
        let mut inputs = inputs.into_iter();
        while let Then::Ask(question) = &turn.then {
            let Some(answer) = inputs.next() else { break };
            let answered = turns::Answered {
                node: question.node.clone(),
                attempt: question.attempt,
                answer,
            };
            turn = turns::walk(&svc.calls, &svc.flows, &identity, call_id, Some(answered)).await?;
        }
        if matches!(
            turn.then,
            Then::HangUp | Then::Transfer { .. } | Then::Voicemail { .. }
        ) {
            // The simulated caller leaves at the flow's end: nothing records a message or
            // takes a transfer without a carrier.
            let reason = "the simulated caller reached the end of the flow";
            svc.calls
                .execute(&identity, call_id, || Command::End {
                    reason: reason.into(),
                    at: Utc::now(),
                })
                .await?;
        }
    }
    Ok(Response::new(to_proto(
        svc.calls.get(&identity, call_id).await?,
    )))
}
