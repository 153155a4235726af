//! The organization's phone numbers, and the calls made to them.

use comms_events::number::NumberSettings;

use super::*;
use crate::numbers::Number;
use crate::numbers::domain::check_skills;

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
    }
}

fn language_of(violations: &mut Violations, value: &str) -> Option<Language> {
    violations.check("language", Language::parse(value))
}

fn skills_of(violations: &mut Violations, skills: &[String]) -> Vec<String> {
    violations.check("skills", check_skills(skills));
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
    violations.finish()?;
    let (Some(number), Some(language)) = (number, language) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let settings = NumberSettings {
        language,
        skills,
        recording,
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
    if req.language.is_empty() && req.skills.is_none() && req.recording.is_none() {
        return Err(ApiError::invalid(
            "language",
            "set at least one of language, skills or recording",
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
    violations.finish()?;
    let language = language.expect("recorded as a violation when absent");
    let settings = NumberSettings {
        language,
        skills,
        recording,
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
/// number's language and skills; the agent routing connects is bridged to it.
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
    let view = svc.calls.receive(&identity, &number, leg, from).await?;
    if view.call.agent_id.is_none() && view.call.status == CallStatus::Answered {
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
            .reserve_agent(forwarded(&metadata, queued))
            .await?;
    }
    Ok(Response::new(to_proto(view)))
}
