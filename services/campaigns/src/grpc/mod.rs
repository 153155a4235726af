//! The `comms.v1.CampaignsService` gRPC API, one file per part (campaigns, contacts): identify
//! the caller, check the permission, validate every field, run the use case, map errors through
//! the one table.

use comms_auth::{Identity, Permission, Tokens};
use comms_proto::v1::campaigns_service_server::CampaignsService;
use comms_proto::v1::{self};
use comms_proto::{ApiError, ErrorKind, Violations};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::app::Campaigns;
use crate::convert::{self, Counts};
use crate::dialer::Dialer;
use crate::domain::DomainError;
use crate::store::Versioned;
use crate::store::campaigns::CampaignView;

mod campaigns;
mod contacts;
mod preview;

pub struct CampaignsGrpc {
    campaigns: Campaigns,
    /// Woken when a campaign starts or resumes, so it dials now; and the preview steps.
    dialer: Dialer,
    tokens: Tokens,
    /// The shortest retry delay a campaign may set, in seconds.
    min_retry_delay: u32,
}

impl CampaignsGrpc {
    pub fn new(dialer: Dialer, tokens: Tokens, min_retry_delay: u32) -> Self {
        Self {
            campaigns: dialer.campaigns.clone(),
            dialer,
            tokens,
            min_retry_delay,
        }
    }

    fn caller<T>(&self, request: &Request<T>, permission: Permission) -> Result<Identity, Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        identity.require(permission)?;
        Ok(identity)
    }

    async fn with_counts(&self, view: &CampaignView) -> Result<v1::Campaign, ApiError> {
        let (contacts, open, calls) = self.campaigns.progress(view.campaign.id).await?;
        Ok(convert::campaign(
            view,
            Counts {
                contacts,
                open,
                calls,
            },
        ))
    }

    async fn respond(
        &self,
        view: Versioned<CampaignView>,
    ) -> Result<Response<v1::Campaign>, Status> {
        Ok(Response::new(self.with_counts(&view.value).await?))
    }
}

fn span<T>(name: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.CampaignsService",
        rpc.method = name,
        org_id = tracing::field::Empty
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

/// The domain's refusals in the API's terms: the service's error table, with the store's failures
/// (`From<Failure<DomainError>> for ApiError`, shared by the fleet) and `ApiError`'s own mapping
/// to gRPC status codes and HTTP problems.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match &error {
            DomainError::NotFound => ApiError::new(ErrorKind::NotFound, error.to_string()),
            DomainError::AlreadyExists => {
                ApiError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            DomainError::IllegalTransition { .. } => {
                ApiError::new(ErrorKind::FailedPrecondition, error.to_string())
            }
            DomainError::Invalid { field, reason } => ApiError::invalid(*field, reason.clone()),
        }
    }
}

fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::invalid(field, format!("{value:?} is not a UUID")))
}

#[tonic::async_trait]
impl CampaignsService for CampaignsGrpc {
    async fn create_campaign(
        &self,
        request: Request<v1::CreateCampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::create(self, request).await
    }

    async fn get_campaign(
        &self,
        request: Request<v1::GetCampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::get(self, request).await
    }

    async fn list_campaigns(
        &self,
        request: Request<v1::ListCampaignsRequest>,
    ) -> Result<Response<v1::ListCampaignsResponse>, Status> {
        campaigns::list(self, request).await
    }

    async fn update_campaign(
        &self,
        request: Request<v1::UpdateCampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::update(self, request).await
    }

    async fn start_campaign(
        &self,
        request: Request<v1::CampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::transition(self, "StartCampaign", request).await
    }

    async fn pause_campaign(
        &self,
        request: Request<v1::CampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::transition(self, "PauseCampaign", request).await
    }

    async fn resume_campaign(
        &self,
        request: Request<v1::CampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::transition(self, "ResumeCampaign", request).await
    }

    async fn cancel_campaign(
        &self,
        request: Request<v1::CampaignRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::transition(self, "CancelCampaign", request).await
    }

    async fn add_campaign_contacts(
        &self,
        request: Request<v1::AddCampaignContactsRequest>,
    ) -> Result<Response<v1::Campaign>, Status> {
        campaigns::add_contacts(self, request).await
    }

    async fn list_campaign_contacts(
        &self,
        request: Request<v1::ListCampaignContactsRequest>,
    ) -> Result<Response<v1::ListCampaignContactsResponse>, Status> {
        campaigns::list_contacts(self, request).await
    }

    async fn import_contacts(
        &self,
        request: Request<Streaming<v1::ImportContactsRequest>>,
    ) -> Result<Response<v1::ImportReport>, Status> {
        contacts::import(self, request).await
    }

    async fn upsert_contact(
        &self,
        request: Request<v1::UpsertContactRequest>,
    ) -> Result<Response<v1::Contact>, Status> {
        contacts::upsert(self, request).await
    }

    async fn get_contact(
        &self,
        request: Request<v1::GetContactRequest>,
    ) -> Result<Response<v1::Contact>, Status> {
        contacts::get(self, request).await
    }

    async fn list_contacts(
        &self,
        request: Request<v1::ListContactsRequest>,
    ) -> Result<Response<v1::ListContactsResponse>, Status> {
        contacts::list(self, request).await
    }

    async fn list_do_not_call_numbers(
        &self,
        request: Request<v1::ListDoNotCallNumbersRequest>,
    ) -> Result<Response<v1::ListDoNotCallNumbersResponse>, Status> {
        contacts::do_not_call_numbers(self, request).await
    }

    async fn get_preview(
        &self,
        request: Request<v1::GetPreviewRequest>,
    ) -> Result<Response<v1::PreviewResponse>, Status> {
        preview::get(self, request).await
    }

    async fn accept_preview(
        &self,
        request: Request<v1::PreviewRequest>,
    ) -> Result<Response<v1::PreviewResponse>, Status> {
        preview::answer(self, "AcceptPreview", request).await
    }

    async fn skip_preview(
        &self,
        request: Request<v1::PreviewRequest>,
    ) -> Result<Response<v1::PreviewResponse>, Status> {
        preview::answer(self, "SkipPreview", request).await
    }

    async fn add_do_not_call_numbers(
        &self,
        request: Request<v1::DoNotCallRequest>,
    ) -> Result<Response<v1::DoNotCallResponse>, Status> {
        contacts::do_not_call(self, request, true).await
    }

    async fn remove_do_not_call_numbers(
        &self,
        request: Request<v1::DoNotCallRequest>,
    ) -> Result<Response<v1::DoNotCallResponse>, Status> {
        contacts::do_not_call(self, request, false).await
    }
}
