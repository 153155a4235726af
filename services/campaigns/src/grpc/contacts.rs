//! Contacts: import (a client stream of rows), create or update one, read, list; and the
//! organization's do-not-call lists.

use comms_proto::PhoneNumber;
use comms_proto::page::{self, Cursor};
use tokio_stream::StreamExt as _;

use super::*;
use crate::app::{ImportRow, MAX_IMPORT_ROWS};

pub(super) async fn import(
    svc: &CampaignsGrpc,
    request: Request<Streaming<v1::ImportContactsRequest>>,
) -> Result<Response<v1::ImportReport>, Status> {
    let span = span("ImportContacts", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let mut stream = request.into_inner();
        let mut rows: Vec<ImportRow> = Vec::new();
        let mut campaign = None;
        while let Some(message) = stream.next().await {
            let message = message?;
            if rows.is_empty() && !message.campaign_id.is_empty() {
                campaign = Some((
                    parse_id("campaign_id", &message.campaign_id)?,
                    message.priority,
                ));
            }
            if rows.len() == MAX_IMPORT_ROWS {
                return Err(ApiError::invalid(
                    "contact",
                    format!("at most {MAX_IMPORT_ROWS} rows per import; split the file"),
                )
                .into());
            }
            let mut violations = Violations::default();
            let given = message.contact.unwrap_or_default();
            let fields = convert::contact_fields(&given, "", &mut violations);
            rows.push(match violations.finish() {
                Ok(()) => Ok(fields),
                Err(error) => Err(error
                    .violations
                    .into_iter()
                    .map(|v| (v.field, v.description))
                    .collect()),
            });
        }
        let report = svc.campaigns.import(&identity, rows, campaign).await?;
        svc.dialer.wake.notify_one();
        Ok(Response::new(report_to_proto(report)))
    }
    .instrument(span)
    .await
}

pub fn report_to_proto(report: crate::app::ImportReport) -> v1::ImportReport {
    v1::ImportReport {
        rows: report.rows,
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        added_to_campaign: report.added_to_campaign,
        rejected: report
            .rejected
            .into_iter()
            .map(|(row, problems)| v1::RejectedRow {
                row,
                violations: problems
                    .into_iter()
                    .map(|(field, description)| v1::RowViolation { field, description })
                    .collect(),
            })
            .collect(),
    }
}

pub(super) async fn upsert(
    svc: &CampaignsGrpc,
    request: Request<v1::UpsertContactRequest>,
) -> Result<Response<v1::Contact>, Status> {
    let span = span("UpsertContact", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsManage)?;
        let given = request.into_inner().fields.unwrap_or_default();
        let mut violations = Violations::default();
        let fields = convert::contact_fields(&given, "", &mut violations);
        violations.finish()?;
        let (contact, _) = svc.campaigns.upsert_contact(&identity, fields).await?;
        Ok(Response::new(convert::contact(&contact.value)))
    }
    .instrument(span)
    .await
}

pub(super) async fn get(
    svc: &CampaignsGrpc,
    request: Request<v1::GetContactRequest>,
) -> Result<Response<v1::Contact>, Status> {
    let span = span("GetContact", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsRead)?;
        let id = parse_id("id", &request.get_ref().id)?;
        let contact = svc.campaigns.get_contact(&identity, id).await?;
        Ok(Response::new(convert::contact(&contact)))
    }
    .instrument(span)
    .await
}

pub(super) async fn list(
    svc: &CampaignsGrpc,
    request: Request<v1::ListContactsRequest>,
) -> Result<Response<v1::ListContactsResponse>, Status> {
    let span = span("ListContacts", &request);
    async move {
        let identity = svc.caller(&request, Permission::CampaignsRead)?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let after = violations
            .check("page_token", Cursor::of(req.page.as_ref()))
            .flatten();
        violations.finish()?;
        let size = page::page_size(req.page.as_ref());
        let mut contacts = svc
            .campaigns
            .list_contacts(&identity, after.map(|c| (c.at, c.id)), size as i64 + 1)
            .await?;
        let next = page::next_token(&mut contacts, size, |c| {
            Cursor {
                at: c.created_at,
                id: c.id,
            }
            .encode()
        });
        Ok(Response::new(v1::ListContactsResponse {
            contacts: contacts.iter().map(convert::contact).collect(),
            page: Some(v1::PageInfo {
                next_page_token: next,
            }),
        }))
    }
    .instrument(span)
    .await
}

pub(super) async fn do_not_call(
    svc: &CampaignsGrpc,
    request: Request<v1::DoNotCallRequest>,
    add: bool,
) -> Result<Response<v1::DoNotCallResponse>, Status> {
    let method = if add {
        "AddDoNotCallNumbers"
    } else {
        "RemoveDoNotCallNumbers"
    };
    let span = span(method, &request);
    async move {
        let identity = svc.caller(&request, Permission::DoNotCallManage)?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let numbers: Vec<PhoneNumber> = req
            .numbers
            .iter()
            .enumerate()
            .filter_map(|(i, n)| violations.check(&format!("numbers[{i}]"), PhoneNumber::parse(n)))
            .collect();
        // As many as fit in a REST body (64 KiB), so REST and gRPC take the same.
        if req.numbers.is_empty() || req.numbers.len() > 3000 {
            violations.add("numbers", "1 to 3000 numbers per request");
        }
        violations.finish()?;
        let changed = svc
            .campaigns
            .change_do_not_call(&identity, &req.list, &numbers, add)
            .await?;
        Ok(Response::new(v1::DoNotCallResponse { changed }))
    }
    .instrument(span)
    .await
}

pub(super) async fn do_not_call_numbers(
    svc: &CampaignsGrpc,
    request: Request<v1::ListDoNotCallNumbersRequest>,
) -> Result<Response<v1::ListDoNotCallNumbersResponse>, Status> {
    let span = span("ListDoNotCallNumbers", &request);
    async move {
        let identity = svc.caller(&request, Permission::DoNotCallManage)?;
        let req = request.into_inner();
        let mut violations = Violations::default();
        let after = violations
            .check("page_token", page::decode_key(req.page.as_ref()))
            .flatten();
        violations.finish()?;
        let size = page::page_size(req.page.as_ref());
        let mut numbers = svc
            .campaigns
            .do_not_call_numbers(&identity, &req.list, after.as_deref(), size as i64 + 1)
            .await?;
        let next = page::next_token(&mut numbers, size, |(phone, _)| page::encode_key(phone));
        Ok(Response::new(v1::ListDoNotCallNumbersResponse {
            numbers: numbers
                .into_iter()
                .map(|(phone, added_at)| v1::DoNotCallNumber {
                    phone,
                    added_at: Some(comms_proto::time::to_timestamp(added_at)),
                })
                .collect(),
            page: Some(v1::PageInfo {
                next_page_token: next,
            }),
        }))
    }
    .instrument(span)
    .await
}
