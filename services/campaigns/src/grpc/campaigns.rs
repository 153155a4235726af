//! Campaigns: create, read, list, change, start, pause, resume, cancel, add contacts, and list
//! contacts with their dial status.

use comms_proto::page::{self, Cursor};

use super::*;
use crate::domain::campaign::{Command, Settings, Status as CampaignStatus};
use crate::domain::pacing::DialingMode;

pub(super) async fn create(
    svc: &CampaignsGrpc,
    request: Request<v1::CreateCampaignRequest>,
) -> Result<Response<v1::Campaign>, Status> {
    let span = span("CreateCampaign", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let patch = request.into_inner().settings.unwrap_or_default();
        let mut violations = Violations::default();
        // A missing or empty name is refused by the settings' own check.
        let base = Settings::new("", DialingMode::Progressive);
        let settings = convert::settings(base, &patch, svc.min_retry_delay, &mut violations);
        violations.finish()?;
        let view = svc.campaigns.create(&identity, settings).await?;
        svc.respond(view).await
    }
    .instrument(span)
    .await
}

pub(super) async fn get(
    svc: &CampaignsGrpc,
    request: Request<v1::GetCampaignRequest>,
) -> Result<Response<v1::Campaign>, Status> {
    let span = span("GetCampaign", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsRead)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let view = svc.campaigns.get(&identity, id).await?;
        svc.respond(view).await
    }
    .instrument(span)
    .await
}

pub(super) async fn list(
    svc: &CampaignsGrpc,
    request: Request<v1::ListCampaignsRequest>,
) -> Result<Response<v1::ListCampaignsResponse>, Status> {
    let span = span("ListCampaigns", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsRead)?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let status = match req.status.as_str() {
            "" => None,
            other => violations.check(
                "status",
                CampaignStatus::parse(other).ok_or_else(|| {
                    format!("{other:?} is not a status; use draft, running, paused, completed or canceled")
                }),
            ),
        };
        let after = violations.check("page_token", Cursor::of(req.page.as_ref())).flatten();
        violations.finish()?;
        let size = page::page_size(req.page.as_ref());
        let mut views = svc
            .campaigns
            .list(&identity, status, after.map(|c| (c.at, c.id)), size as i64 + 1)
            .await?;
        let next = page::next_token(&mut views, size, |v| {
            Cursor {
                at: v.campaign.created_at,
                id: v.campaign.id,
            }
            .encode()
        });
        let mut campaigns = Vec::with_capacity(views.len());
        for view in &views {
            campaigns.push(svc.with_counts(view).await?);
        }
        Ok(Response::new(v1::ListCampaignsResponse {
            campaigns,
            page: Some(v1::PageInfo {
                next_page_token: next,
            }),
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn update(
    svc: &CampaignsGrpc,
    request: Request<v1::UpdateCampaignRequest>,
) -> Result<Response<v1::Campaign>, Status> {
    let span = span("UpdateCampaign", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        let patch = req.settings.unwrap_or_default();
        let view = svc
            .campaigns
            .update(&identity, id, |current| {
                let mut violations = Violations::default();
                let settings =
                    convert::settings(current, &patch, svc.min_retry_delay, &mut violations);
                violations.finish()?;
                Ok(settings)
            })
            .await?;
        svc.respond(view).await
    }
    .instrument(span)
    .await
}

pub(super) async fn transition(
    svc: &CampaignsGrpc,
    method: &'static str,
    request: Request<v1::CampaignRequest>,
) -> Result<Response<v1::Campaign>, Status> {
    let span = span(method, &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let view = svc
            .campaigns
            .transition(&identity, id, |at| match method {
                "StartCampaign" => Command::Start { at, task_id: None },
                "PauseCampaign" => Command::Pause { at },
                "ResumeCampaign" => Command::Resume { at },
                _ => Command::Cancel { at },
            })
            .await?;
        svc.dialer.wake.notify_one();
        svc.respond(view).await
    }
    .instrument(span)
    .await
}

pub(super) async fn add_contacts(
    svc: &CampaignsGrpc,
    request: Request<v1::AddCampaignContactsRequest>,
) -> Result<Response<v1::Campaign>, Status> {
    let span = span("AddCampaignContacts", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let req = request.into_inner();
        let id = parse_id("id", &req.id)?;
        let mut violations = Violations::default();
        let ids: Vec<Uuid> = req
            .contact_ids
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                violations.check(
                    &format!("contact_ids[{i}]"),
                    Uuid::parse_str(raw).map_err(|_| format!("{raw:?} is not a UUID")),
                )
            })
            .collect();
        if req.contact_ids.is_empty() {
            violations.add("contact_ids", "name at least one contact");
        }
        if req.contact_ids.len() > 1000 {
            violations.add(
                "contact_ids",
                "at most 1000 per request; import larger lists",
            );
        }
        violations.finish()?;
        let view = svc
            .campaigns
            .add_contacts(&identity, id, &ids, req.priority)
            .await?;
        svc.dialer.wake.notify_one();
        svc.respond(view).await
    }
    .instrument(span)
    .await
}

pub(super) async fn list_contacts(
    svc: &CampaignsGrpc,
    request: Request<v1::ListCampaignContactsRequest>,
) -> Result<Response<v1::ListCampaignContactsResponse>, Status> {
    let span = span("ListCampaignContacts", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsRead)?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let id = violations.check(
            "id",
            Uuid::parse_str(&req.id).map_err(|_| format!("{:?} is not a UUID", req.id)),
        );
        let after = violations
            .check("page_token", page::decode_position(req.page.as_ref()))
            .flatten();
        violations.finish()?;
        let size = page::page_size(req.page.as_ref());
        let mut statuses = svc
            .campaigns
            .contact_statuses(&identity, id.expect("validated"), after, size as i64 + 1)
            .await?;
        let next = page::next_token(&mut statuses, size, |(seq, _)| page::encode_position(*seq));
        Ok(Response::new(v1::ListCampaignContactsResponse {
            contacts: statuses
                .iter()
                .map(|(_, s)| convert::campaign_contact(s))
                .collect(),
            page: Some(v1::PageInfo {
                next_page_token: next,
            }),
        }))
    }
    .instrument(span)
    .await
}
