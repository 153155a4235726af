//! The `comms.v1.MessagesService` gRPC API, served beside the calls service's: text messages
//! and conversations (docs/messaging.md).

use comms_proto::v1::messages_service_server::MessagesService;
use comms_proto::v1::{self, MessageStatus};

use super::*;
use crate::messages::{self, Conversation, Message, Messages, Status as Delivery};
use crate::notifications::Notifications;
use crate::telephony::TextReport;
use comms_events::notification::{Channel, Preferences, QuietHours};

pub struct MessagesGrpc {
    messages: Messages,
    notifications: Notifications,
    tokens: Tokens,
}

impl MessagesGrpc {
    pub fn new(messages: Messages, notifications: Notifications, tokens: Tokens) -> Self {
        Self {
            messages,
            notifications,
            tokens,
        }
    }

    /// The caller, when they may say how `user` is notified: an administrator for anyone, anyone
    /// else for themselves.
    fn manages(&self, request: &Request<impl Sized>, user: &str) -> Result<Identity, Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        let scope = identity.require(Permission::NotificationsManage)?;
        if scope != Scope::Organization && identity.user_id != user {
            return Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "only an administrator says how another user is notified",
            )
            .into());
        }
        Ok(identity)
    }

    fn caller<T>(&self, request: &Request<T>, permission: Permission) -> Result<Identity, Status> {
        let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
        tracing::Span::current().record("org_id", identity.org_id.as_str());
        identity.require(permission)?;
        Ok(identity)
    }
}

fn span<T>(name: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.MessagesService",
        rpc.method = name,
        org_id = tracing::field::Empty
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

pub fn message_to_proto(message: Message) -> v1::Message {
    v1::Message {
        id: message.id.to_string(),
        conversation_id: message.conversation_id.to_string(),
        direction: match message.direction {
            messages::Direction::Outbound => "outbound",
            messages::Direction::Inbound => "inbound",
        }
        .into(),
        from: message.from.to_string(),
        to: message.to.to_string(),
        text: message.text,
        status: match message.status {
            Delivery::Sent => MessageStatus::Sent,
            Delivery::Delivered => MessageStatus::Delivered,
            Delivery::Failed => MessageStatus::Failed,
            Delivery::Received => MessageStatus::Received,
        } as i32,
        encoding: message.encoding.as_str().into(),
        segments: message.segments,
        carrier: message.carrier.as_str().into(),
        carrier_message_id: message.carrier_message_id,
        failure_reason: message.failure_reason.unwrap_or_default(),
        keyword: match message.keyword {
            Some(comms_events::sms::Keyword::Stop) => "stop",
            Some(comms_events::sms::Keyword::Start) => "start",
            None => "",
        }
        .into(),
        sent_by: message.sent_by.unwrap_or_default(),
        created_at: Some(time::to_timestamp(message.created_at)),
        updated_at: Some(time::to_timestamp(message.updated_at)),
    }
}

fn conversation_to_proto(conversation: Conversation) -> v1::Conversation {
    v1::Conversation {
        id: conversation.id.to_string(),
        number: conversation.number.to_string(),
        opted_out: conversation.opted_out,
        message_count: conversation.message_count,
        last_message: conversation.last_message.map(message_to_proto),
        updated_at: Some(time::to_timestamp(conversation.updated_at)),
    }
}

/// A text's body: 1 to 1600 characters, no control characters but line breaks and tabs.
fn text_of(violations: &mut Violations, field: &str, text: &str, required: bool) -> String {
    if required && text.trim().is_empty() {
        violations.add(field, "required: the text to send");
    } else if let Err(DomainError::Invalid { reason, .. }) =
        check_text("text", text, messages::MAX_TEXT)
    {
        violations.add(field, reason);
    }
    text.to_owned()
}

/// The carrier a carrier's request names (Twilio or Vonage), and its id for the message checked.
fn carrier_of(violations: &mut Violations, carrier: &str, id: &str) -> Option<Carrier> {
    violations.check("carrier_message_id", carrier_id(id, "message"));
    violations.check("carrier", carrier_named(carrier))
}

fn preferences_to_proto(user: &str, preferences: Preferences) -> v1::NotificationPreferences {
    let (quiet_from, quiet_to) = preferences
        .quiet_hours
        .map(|q| (q.from, q.to))
        .unwrap_or_default();
    v1::NotificationPreferences {
        user_id: user.to_owned(),
        channel: match preferences.channel {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::None => "none",
        }
        .into(),
        phone: preferences.phone.map(|p| p.to_string()).unwrap_or_default(),
        language: preferences.language.as_str().into(),
        time_zone: preferences.time_zone,
        quiet_from,
        quiet_to,
    }
}

/// A user id: as identities name users (1-128 characters, no spaces or controls).
fn user_of(violations: &mut Violations, user: &str) {
    if !comms_auth::identity::valid_id(user) {
        violations.add("user_id", format!("{user:?} is not a user id"));
    }
}

fn preferences_from_proto(request: &v1::NotificationPreferences) -> Result<Preferences, ApiError> {
    let mut violations = Violations::default();
    user_of(&mut violations, &request.user_id);
    let channel = violations.check(
        "channel",
        match request.channel.as_str() {
            "sms" => Ok(Channel::Sms),
            "call" => Ok(Channel::Call),
            "none" => Ok(Channel::None),
            other => Err(format!("{other:?} is not a channel (sms, call or none)")),
        },
    );
    let phone = if request.phone.is_empty() {
        None
    } else {
        violations.check("phone", PhoneNumber::parse(&request.phone))
    };
    let language = if request.language.is_empty() {
        Some(Language::En)
    } else {
        violations.check("language", Language::parse(&request.language))
    };
    let quiet_hours = match (request.quiet_from.is_empty(), request.quiet_to.is_empty()) {
        (true, true) => None,
        (false, false) => Some(QuietHours {
            from: request.quiet_from.clone(),
            to: request.quiet_to.clone(),
        }),
        _ => {
            violations.add("quiet_hours", "both from and to, or neither");
            None
        }
    };
    let time_zone = match request.time_zone.as_str() {
        "" => "UTC".to_owned(),
        zone => zone.to_owned(),
    };
    if channel.is_some_and(|c| c != Channel::None) && request.phone.is_empty() {
        violations.add("phone", "required with channels sms and call");
    }
    crate::notifications::check_zone_and_hours(&mut violations, &time_zone, quiet_hours.as_ref());
    violations.finish()?;
    let (Some(channel), Some(language)) = (channel, language) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let preferences = Preferences {
        channel,
        phone,
        language,
        time_zone,
        quiet_hours,
    };
    crate::notifications::check(&preferences)?;
    Ok(preferences)
}

#[tonic::async_trait]
impl MessagesService for MessagesGrpc {
    async fn set_notification_preferences(
        &self,
        request: Request<v1::NotificationPreferences>,
    ) -> Result<Response<v1::NotificationPreferences>, Status> {
        let span = span("SetNotificationPreferences", &request);
        async move {
            let preferences = preferences_from_proto(request.get_ref())?;
            let user = request.get_ref().user_id.clone();
            let identity = self.manages(&request, &user)?;
            let kept = self
                .notifications
                .set(&identity, &user, preferences)
                .await?;
            Ok(Response::new(preferences_to_proto(&user, kept)))
        }
        .instrument(span)
        .await
    }

    async fn get_notification_preferences(
        &self,
        request: Request<v1::GetNotificationPreferencesRequest>,
    ) -> Result<Response<v1::NotificationPreferences>, Status> {
        let span = span("GetNotificationPreferences", &request);
        async move {
            let user = request.get_ref().user_id.clone();
            let mut violations = Violations::default();
            user_of(&mut violations, &user);
            violations.finish()?;
            let identity = self.manages(&request, &user)?;
            let kept = self.notifications.get(&identity.org_id, &user).await?;
            Ok(Response::new(preferences_to_proto(&user, kept)))
        }
        .instrument(span)
        .await
    }

    async fn send_message(
        &self,
        request: Request<v1::SendMessageRequest>,
    ) -> Result<Response<v1::Message>, Status> {
        let span = span("SendMessage", &request);
        async move {
            let identity = self.caller(&request, Permission::MessagesSend)?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            let to = violations.check("to", PhoneNumber::parse(&req.to));
            let from = if req.from.is_empty() {
                None
            } else {
                violations.check("from", PhoneNumber::parse(&req.from))
            };
            let text = text_of(&mut violations, "text", &req.text, true);
            violations.finish()?;
            let to = to.expect("a violation when absent");
            let sent = self.messages.send(&identity, to, from, text).await?;
            Ok(Response::new(message_to_proto(sent)))
        }
        .instrument(span)
        .await
    }

    async fn get_message(
        &self,
        request: Request<v1::GetMessageRequest>,
    ) -> Result<Response<v1::Message>, Status> {
        let span = span("GetMessage", &request);
        async move {
            let identity = self.caller(&request, Permission::MessagesRead)?;
            let id = parse_id("id", &request.get_ref().id)?;
            let message = self.messages.get(&identity.org_id, id).await?;
            Ok(Response::new(message_to_proto(message)))
        }
        .instrument(span)
        .await
    }

    async fn list_conversations(
        &self,
        request: Request<v1::ListConversationsRequest>,
    ) -> Result<Response<v1::ListConversationsResponse>, Status> {
        let span = span("ListConversations", &request);
        async move {
            let identity = self.caller(&request, Permission::MessagesRead)?;
            let page = request.get_ref().page.as_ref();
            let size = comms_proto::page::page_size(page);
            let after = Cursor::of(page).map_err(|e| ApiError::invalid("page_token", e))?;
            let mut found = self
                .messages
                .conversations(&identity.org_id, after, size)
                .await?;
            let next = comms_proto::page::next_token(&mut found, size, |c| {
                Cursor {
                    at: c.updated_at,
                    id: c.id,
                }
                .encode()
            });
            Ok(Response::new(v1::ListConversationsResponse {
                conversations: found.into_iter().map(conversation_to_proto).collect(),
                page: Some(v1::PageInfo {
                    next_page_token: next,
                }),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_conversation(
        &self,
        request: Request<v1::GetConversationRequest>,
    ) -> Result<Response<v1::Conversation>, Status> {
        let span = span("GetConversation", &request);
        async move {
            let identity = self.caller(&request, Permission::MessagesRead)?;
            let id = parse_id("id", &request.get_ref().id)?;
            let conversation = self.messages.conversation(&identity.org_id, id).await?;
            Ok(Response::new(conversation_to_proto(conversation)))
        }
        .instrument(span)
        .await
    }

    async fn list_messages(
        &self,
        request: Request<v1::ListMessagesRequest>,
    ) -> Result<Response<v1::ListMessagesResponse>, Status> {
        let span = span("ListMessages", &request);
        async move {
            let identity = self.caller(&request, Permission::MessagesRead)?;
            let req = request.into_inner();
            let id = parse_id("id", &req.id)?;
            let size = comms_proto::page::page_size(req.page.as_ref());
            let after =
                Cursor::of(req.page.as_ref()).map_err(|e| ApiError::invalid("page_token", e))?;
            let mut found = self
                .messages
                .messages(&identity.org_id, id, after, size)
                .await?;
            let next = comms_proto::page::next_token(&mut found, size, |m| {
                Cursor {
                    at: m.created_at,
                    id: m.id,
                }
                .encode()
            });
            Ok(Response::new(v1::ListMessagesResponse {
                messages: found.into_iter().map(message_to_proto).collect(),
                page: Some(v1::PageInfo {
                    next_page_token: next,
                }),
            }))
        }
        .instrument(span)
        .await
    }

    async fn receive_message(
        &self,
        request: Request<v1::ReceiveMessageRequest>,
    ) -> Result<Response<v1::Message>, Status> {
        let span = span("ReceiveMessage", &request);
        async move {
            let identity = self.caller(&request, Permission::CallsCarrier)?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            let carrier = carrier_of(&mut violations, &req.carrier, &req.carrier_message_id);
            let to = violations.check("to", PhoneNumber::parse(&req.to));
            let from = violations.check("from", PhoneNumber::parse(&req.from));
            let text = text_of(&mut violations, "text", &req.text, false);
            violations.finish()?;
            let (Some(carrier), Some(to), Some(from)) = (carrier, to, from) else {
                unreachable!("each is recorded as a violation when absent");
            };
            let message = self
                .messages
                .receive(&identity, carrier, &req.carrier_message_id, to, from, text)
                .await?;
            Ok(Response::new(message_to_proto(message)))
        }
        .instrument(span)
        .await
    }

    async fn report_message_status(
        &self,
        request: Request<v1::ReportMessageStatusRequest>,
    ) -> Result<Response<v1::Message>, Status> {
        let span = span("ReportMessageStatus", &request);
        async move {
            let identity = self.caller(&request, Permission::CallsCarrier)?;
            let req = request.into_inner();
            let mut violations = Violations::default();
            let id = violations.check(
                "id",
                Uuid::parse_str(&req.id).map_err(|_| format!("{:?} is not a UUID", req.id)),
            );
            let carrier = carrier_of(&mut violations, &req.carrier, &req.carrier_message_id);
            let report: Option<Option<TextReport>> = match carrier {
                Some(Carrier::Twilio) => violations.check(
                    "status",
                    crate::telephony::twilio::text_report_of(&req.status, &req.error_code),
                ),
                Some(_) => violations.check(
                    "status",
                    crate::telephony::vonage::text_report_of(&req.status, &req.error_code),
                ),
                None => None,
            };
            violations.finish()?;
            let (Some(id), Some(carrier), Some(report)) = (id, carrier, report) else {
                unreachable!("each is recorded as a violation when absent");
            };
            let message = self
                .messages
                .report(&identity, id, carrier, &req.carrier_message_id, report)
                .await?;
            Ok(Response::new(message_to_proto(message)))
        }
        .instrument(span)
        .await
    }
}
