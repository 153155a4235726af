//! Preview dialing: the contact shown to an agent, accepted or skipped. An agent reaches only
//! their own preview (their agent id is their user id); supervisors and administrators any.

use comms_auth::Scope;

use super::*;

/// The agent the caller acts for: themselves, or (with organization scope) the one named.
fn acting_for(identity: &Identity, scope: Scope, named: &str) -> Result<Option<Uuid>, ApiError> {
    match scope {
        // A caller whose id is no UUID (a service account acting as an agent) has no preview.
        Scope::Own => Ok(Some(
            Uuid::parse_str(&identity.user_id).unwrap_or(Uuid::nil()),
        )),
        _ if named.is_empty() => Ok(None),
        _ => parse_id("agent_id", named).map(Some),
    }
}

pub(super) async fn get(
    svc: &CampaignsGrpc,
    request: Request<v1::GetPreviewRequest>,
) -> Result<Response<v1::PreviewResponse>, Status> {
    let span = span("GetPreview", &request);
    async move {
        let identity = comms_auth::service::identify(&svc.tokens, request.metadata())?;
        let scope = identity.require(Permission::CampaignsPreview)?;
        let named = &request.get_ref().agent_id;
        let agent = match acting_for(&identity, scope, named)? {
            // An agent asking for another's preview sees none.
            Some(me) if scope == Scope::Own && !named.is_empty() && named != &me.to_string() => {
                return Ok(Response::new(v1::PreviewResponse { preview: None }));
            }
            Some(agent) => agent,
            // Their own, as for an agent: a caller whose id is no UUID (a platform user who is
            // no agent of ours) has none.
            None => match Uuid::parse_str(&identity.user_id) {
                Ok(me) => me,
                Err(_) => return Ok(Response::new(v1::PreviewResponse { preview: None })),
            },
        };
        let shown = svc.dialer.shown_to(&identity.org_id, agent).await?;
        Ok(Response::new(v1::PreviewResponse {
            preview: shown.map(|shown| v1::Preview {
                call_id: shown.preview.call_id.to_string(),
                campaign_id: shown.preview.campaign_id.to_string(),
                campaign_name: shown.campaign_name,
                agent_id: shown.preview.agent_id.to_string(),
                contact: Some(convert::contact(&shown.contact)),
                offered_at: Some(comms_proto::time::to_timestamp(shown.preview.offered_at)),
            }),
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn answer(
    svc: &CampaignsGrpc,
    method: &'static str,
    request: Request<v1::PreviewRequest>,
) -> Result<Response<v1::PreviewResponse>, Status> {
    let span = span(method, &request);
    async move {
        let identity = comms_auth::service::identify(&svc.tokens, request.metadata())?;
        let scope = identity.require(Permission::CampaignsPreview)?;
        let call_id = parse_id("call_id", &request.get_ref().call_id)?;
        let agent = acting_for(&identity, scope, "")?;
        if method == "AcceptPreview" {
            svc.dialer.accept(&identity.org_id, call_id, agent).await?;
        } else {
            svc.dialer.skip(&identity.org_id, call_id, agent).await?;
        }
        svc.dialer.wake.notify_one();
        Ok(Response::new(v1::PreviewResponse { preview: None }))
    }
    .instrument(span)
    .await
}
