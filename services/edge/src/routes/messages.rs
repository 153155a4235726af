//! `/api/communications/messages` and `/api/communications/conversations`: text messages and
//! the conversations they thread into, over `comms.v1.MessagesService` (docs/messaging.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1::{self, MessageStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::campaigns::{PageParams, page};
use super::{non_empty, time};
use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// E.164.
    #[schema(example = "+34600000001", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub to: String,
    /// One of the organization's numbers, E.164; absent: the carrier's own number.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub from: Option<String>,
    /// 1 to 1600 characters. A text GSM-7 cannot carry (most non-Latin scripts, emoji) travels
    /// as UCS-2, which fits fewer characters in each billed segment.
    #[schema(
        min_length = 1,
        max_length = 1600,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
        example = "Your appointment is confirmed for Tuesday at 10:00."
    )]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// outbound or inbound.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub text: String,
    /// sent (the carrier took it), delivered, failed, or received (from the other party).
    pub status: String,
    /// gsm7 or ucs2: how the text travels.
    pub encoding: String,
    /// How many segments the carrier bills it as (GSM-7: 160 characters alone, 153 each in a
    /// longer text; UCS-2: 70 and 67).
    pub segments: u32,
    /// simulated, twilio or vonage.
    pub carrier: String,
    pub carrier_message_id: String,
    /// Why it failed, in the carrier's words and code.
    pub failure_reason: Option<String>,
    /// stop or start: a received text that opted the number out or back in.
    pub keyword: Option<String>,
    /// The user who sent it.
    pub sent_by: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<v1::Message> for Message {
    fn from(m: v1::Message) -> Self {
        let status = match m.status() {
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Received => "received",
            MessageStatus::Unspecified => "unknown",
        };
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            from: m.from,
            to: m.to,
            text: m.text,
            status: status.into(),
            encoding: m.encoding,
            segments: m.segments,
            carrier: m.carrier,
            carrier_message_id: m.carrier_message_id,
            failure_reason: non_empty(m.failure_reason),
            keyword: non_empty(m.keyword),
            sent_by: non_empty(m.sent_by),
            created_at: time(m.created_at),
            updated_at: time(m.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    /// The other party, E.164.
    pub number: String,
    /// The number replied STOP (or its equivalent): no texts are sent to it and no campaign
    /// calls it, until it replies START.
    pub opted_out: bool,
    pub message_count: u32,
    pub last_message: Option<Message>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<v1::Conversation> for Conversation {
    fn from(c: v1::Conversation) -> Self {
        Self {
            id: c.id,
            number: c.number,
            opted_out: c.opted_out,
            message_count: c.message_count,
            last_message: c.last_message.map(Message::from),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    pub data: Vec<Conversation>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub data: Vec<Message>,
    pub next_page_token: Option<String>,
}

/// Send a text through the carrier that carries calls (failing over as calls do). 201 with the
/// message `sent` once the carrier took it; its delivery report changes it to `delivered` or
/// `failed`. A number that replied STOP is refused (409) until it replies START; a text the
/// carrier refuses is 409 with its reason, and nothing is kept.
#[utoipa::path(post, path = "/api/communications/messages", tag = "messages", request_body = SendMessage,
    security(("bearer" = ["messages:send"])),
    responses(
        (status = 201, body = Message),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The number opted out, or the carrier refused the text", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` is not one of the organization's numbers", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No carrier could take the text; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SendMessage>,
) -> Result<(StatusCode, axum::Json<Message>)> {
    let request = v1::SendMessageRequest {
        to: body.to,
        from: body.from.unwrap_or_default(),
        text: body.text,
    };
    let sent = state
        .messages
        .clone()
        .send_message(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, axum::Json(sent.into())))
}

/// One message.
#[utoipa::path(get, path = "/api/communications/messages/{id}", tag = "messages", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["messages:read"])),
    responses(
        (status = 200, body = Message),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Message>> {
    let message = state
        .messages
        .clone()
        .get_message(caller.grpc(v1::GetMessageRequest { id })?)
        .await?
        .into_inner();
    Ok(axum::Json(message.into()))
}

/// The organization's conversations (one per number it texted or was texted by), the latest
/// first.
#[utoipa::path(get, path = "/api/communications/conversations", tag = "messages", params(PageParams),
    security(("bearer" = ["messages:read"])),
    responses(
        (status = 200, body = ConversationPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_conversations(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ConversationPage>> {
    let request = v1::ListConversationsRequest {
        page: Some(page(params.page_size, params.page_token)?),
    };
    let found = state
        .messages
        .clone()
        .list_conversations(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(ConversationPage {
        data: found.conversations.into_iter().map(Into::into).collect(),
        next_page_token: super::next_page_token(found.page),
    }))
}

/// One conversation, with its latest message.
#[utoipa::path(get, path = "/api/communications/conversations/{id}", tag = "messages", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["messages:read"])),
    responses(
        (status = 200, body = Conversation),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Conversation>> {
    let conversation = state
        .messages
        .clone()
        .get_conversation(caller.grpc(v1::GetConversationRequest { id })?)
        .await?
        .into_inner();
    Ok(axum::Json(conversation.into()))
}

/// A conversation's messages both ways, the latest first.
#[utoipa::path(get, path = "/api/communications/conversations/{id}/messages", tag = "messages",
    params(("id" = uuid::Uuid, Path), PageParams),
    security(("bearer" = ["messages:read"])),
    responses(
        (status = 200, body = MessagePage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<MessagePage>> {
    let request = v1::ListMessagesRequest {
        id,
        page: Some(page(params.page_size, params.page_token)?),
    };
    let found = state
        .messages
        .clone()
        .list_messages(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(MessagePage {
        data: found.messages.into_iter().map(Into::into).collect(),
        next_page_token: super::next_page_token(found.page),
    }))
}

/// How the platform's notifications (a task assigned, a task overdue, a project's milestone)
/// reach a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPreferences {
    /// `sms` (a text to `phone`), `call` (a call to `phone` that says it) or `none`.
    #[schema(pattern = "^(sms|call|none)$", example = "sms")]
    pub channel: String,
    /// E.164: where texts and calls go (kept with `none` too, for when they choose again).
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: String,
    /// The language notifications are written in; `en` when absent.
    #[schema(value_type = Option<super::agents::LanguageCode>)]
    pub language: Option<String>,
    /// An IANA zone, where the quiet hours are kept; `UTC` when absent.
    #[schema(value_type = Option<super::contacts::TimeZone>)]
    pub time_zone: Option<String>,
    /// Nothing is sent between `from` and `to` (in `time_zone`; `from` after `to` spans
    /// midnight); what falls there is sent when they end. The same time twice is no window.
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    pub from: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:30")]
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreferences {
    pub user_id: String,
    pub channel: String,
    pub phone: Option<String>,
    pub language: String,
    pub time_zone: String,
    pub quiet_hours: Option<QuietHours>,
}

impl From<v1::NotificationPreferences> for NotificationPreferences {
    fn from(p: v1::NotificationPreferences) -> Self {
        let quiet_hours = (!p.quiet_from.is_empty()).then_some(QuietHours {
            from: p.quiet_from,
            to: p.quiet_to,
        });
        Self {
            user_id: p.user_id,
            channel: p.channel,
            phone: non_empty(p.phone),
            language: p.language,
            time_zone: p.time_zone,
            quiet_hours,
        }
    }
}

/// Say how a user is told of the platform's task and project events, replacing what was said
/// before. An administrator for anyone in the organization; anyone else for themselves.
#[utoipa::path(put, path = "/api/communications/notification-preferences/{user_id}", tag = "messages",
    params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_.:@-]{1,128}$", description = "The platform's id of the user")),
    request_body = SetPreferences,
    security(("bearer" = ["notifications:manage"])),
    responses(
        (status = 200, body = NotificationPreferences),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_preferences(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    Json(body): Json<SetPreferences>,
) -> Result<axum::Json<NotificationPreferences>> {
    let (quiet_from, quiet_to) = body.quiet_hours.map(|q| (q.from, q.to)).unwrap_or_default();
    let request = v1::NotificationPreferences {
        user_id,
        channel: body.channel,
        phone: body.phone,
        language: body.language.unwrap_or_default(),
        time_zone: body.time_zone.unwrap_or_default(),
        quiet_from,
        quiet_to,
    };
    let kept = state
        .messages
        .clone()
        .set_notification_preferences(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(kept.into()))
}

/// How a user is told of the platform's task and project events; 404 when nobody said.
#[utoipa::path(get, path = "/api/communications/notification-preferences/{user_id}", tag = "messages",
    params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_.:@-]{1,128}$", description = "The platform's id of the user")),
    security(("bearer" = ["notifications:manage"])),
    responses(
        (status = 200, body = NotificationPreferences),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_preferences(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<axum::Json<NotificationPreferences>> {
    let request = v1::GetNotificationPreferencesRequest { user_id };
    let kept = state
        .messages
        .clone()
        .get_notification_preferences(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(kept.into()))
}
