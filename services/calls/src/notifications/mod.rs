//! The platform's notifications: a task assigned (`tasks.assigned`), a task overdue
//! (`tasks.overdue`), a project's milestone (`planning.project.milestone_reached`) become texts,
//! or calls that say them, to the people they concern, each as their preferences say (channel,
//! number, language, zone, quiet hours). The feed schedules them in the consumer's transaction, once per event and
//! recipient (a redelivered event schedules nothing again); the sender sends what is due.

pub mod quiet;
pub mod texts;

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_auth::Identity;
use comms_bus::{Envelope, HandleError, Handler};
use comms_events::notification::{
    Channel, NotificationPreferencesEvent, Preferences, PreferencesChanged,
};
use comms_events::platform::{ProjectEvent, TaskEvent};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, Violations};
use comms_runtime::Shutdown;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Calls;
use crate::domain::{Command, Language, RecordingPolicy};
use crate::messages::Messages;

const STREAM_CATEGORY: &str = "notification_preferences";
const IDS: Uuid = Uuid::from_u128(0x3c6e_91a0_7d24_4b5f_9e08_a1d3_5f72_c6b4);
/// How often the sender looks for what is due, and how many it takes at once.
const TICK: Duration = Duration::from_millis(500);
const BATCH: i64 = 50;
/// How long a claimed notification is left to its sender before another may take it.
const CLAIM_SECONDS: f64 = 60.0;
/// A notification the carriers could not take is tried this many times, a tick further apart
/// each time.
const MAX_ATTEMPTS: i32 = 5;

#[derive(Clone)]
pub struct Notifications {
    store: EventStore,
    messages: Messages,
    calls: Calls,
}

/// Preferences checked: a number with `sms`, a zone that exists, a quiet window that parses.
pub fn check(preferences: &Preferences) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    if preferences.channel != Channel::None && preferences.phone.is_none() {
        violations.add("phone", "required with channels sms and call");
    }
    check_zone_and_hours(
        &mut violations,
        &preferences.time_zone,
        preferences.quiet_hours.as_ref(),
    );
    violations.finish()
}

/// A zone that exists and a quiet window that parses, each violation on its field.
pub fn check_zone_and_hours(
    violations: &mut Violations,
    zone: &str,
    quiet_hours: Option<&comms_events::notification::QuietHours>,
) {
    if zone.parse::<chrono_tz::Tz>().is_err() {
        violations.add("time_zone", format!("{zone:?} is not an IANA time zone"));
    }
    if let Some(quiet) = quiet_hours
        && let Err((field, reason)) = quiet::Window::parse(&quiet.from, &quiet.to)
    {
        violations.add(field, reason);
    }
}

fn store_error(error: impl Into<comms_eventstore::Error>) -> ApiError {
    comms_eventstore::unit_of_work::api_error(error)
}

impl Notifications {
    pub fn new(store: EventStore, messages: Messages, calls: Calls) -> Self {
        Self {
            store,
            messages,
            calls,
        }
    }

    /// Replaces `user`'s preferences (`comms.notification_preferences.changed`).
    pub async fn set(
        &self,
        identity: &Identity,
        user: &str,
        preferences: Preferences,
    ) -> Result<Preferences, ApiError> {
        check(&preferences)?;
        let org = identity.org_id.as_str();
        let stream = StreamName::new(
            STREAM_CATEGORY,
            Uuid::new_v5(&IDS, format!("{org}\n{user}").as_bytes()),
        );
        let event = NotificationPreferencesEvent::Changed(PreferencesChanged {
            user_id: user.to_owned(),
            preferences: preferences.clone(),
            at: Utc::now(),
        });
        in_transaction!(self.store, |tx| {
            let appended = comms_eventstore::append_in(
                &mut *tx,
                org,
                &stream,
                ExpectedVersion::Any,
                vec![comms_bus::new_event(&event, &identity.user_id, None)],
            )
            .await
            .map_err(store_error)?;
            sqlx::query(
                "INSERT INTO notification_preferences (org_id, user_id, version, state, updated_at)
                 VALUES ($1, $2, $3, $4, now())
                 ON CONFLICT (org_id, user_id) DO UPDATE
                 SET version = EXCLUDED.version, state = EXCLUDED.state, updated_at = now()",
            )
            .bind(org)
            .bind(user)
            .bind(appended.next_expected_version as i64)
            .bind(Json(&preferences))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            Ok(preferences.clone())
        })
    }

    pub async fn get(&self, org: &str, user: &str) -> Result<Preferences, ApiError> {
        preferences_of(
            &mut *self.store.pool().acquire().await.map_err(store_error)?,
            org,
            user,
        )
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::NotFound,
                format!("user {user} has no notification preferences"),
            )
        })
    }

    /// Sends what is due until `shutdown`.
    pub async fn send_due(self, shutdown: Shutdown) {
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TICK) => {}
            }
            if let Err(error) = self.send_batch().await {
                tracing::warn!(%error, "sending notifications");
            }
        }
    }

    /// Claims the due notifications (for a while: another replica skips them), sends each, and
    /// records how it went.
    async fn send_batch(&self) -> Result<(), sqlx::Error> {
        let due: Vec<Due> = sqlx::query_as(
            "UPDATE notifications SET claimed_until = now() + make_interval(secs => $1),
                                      attempts = attempts + 1
             WHERE id IN (SELECT id FROM notifications
                          WHERE sent_at IS NULL AND failure IS NULL AND send_at <= now()
                            AND (claimed_until IS NULL OR claimed_until < now())
                          ORDER BY send_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING id, org_id, channel, language, phone, text",
        )
        .bind(CLAIM_SECONDS)
        .bind(BATCH)
        .fetch_all(self.store.pool())
        .await?;
        for due in due {
            let identity = Identity::system(&due.org_id, "notifications");
            let to = comms_proto::PhoneNumber::parse(&due.phone).expect("kept in E.164");
            let language = Language::parse(&due.language).unwrap_or(Language::En);
            let sent = match due.channel.as_str() {
                "call" => self.call(&identity, due.id, to, language, due.text).await,
                _ => (self.messages.send(&identity, to, None, due.text).await).map(|m| m.id),
            };
            let id = due.id;
            let (message, failure) = match sent {
                Ok(sent) => (Some(sent), None),
                Err(error) if error.kind == ErrorKind::Unavailable => {
                    tracing::warn!(notification = %id, error = %error.message, "the carriers could not take a notification; it is tried again");
                    self.retry_later(id).await?;
                    continue;
                }
                Err(error) => (None, Some(error.message)),
            };
            sqlx::query(
                "UPDATE notifications SET sent_at = now(), message_id = $2, failure = $3
                 WHERE id = $1",
            )
            .bind(id)
            .bind(message)
            .bind(failure)
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }

    /// Places a call that says `text` to `to` and hangs up (once per notification: its id is the
    /// call's idempotency key); the call's id.
    async fn call(
        &self,
        identity: &Identity,
        id: Uuid,
        to: comms_proto::PhoneNumber,
        language: Language,
        text: String,
    ) -> Result<Uuid, ApiError> {
        let key = format!("notification:{id}");
        let placed = self
            .calls
            .initiate(identity, Some(&key), |call_id| Command::Initiate {
                call_id,
                to: to.clone(),
                from: None,
                agent_id: None,
                campaign_id: None,
                language,
                detect_machines: false,
                recording: RecordingPolicy::Never,
                announcement: Some(text.clone()),
                at: Utc::now(),
            })
            .await?;
        Ok(placed.call.id)
    }

    /// Leaves a notification the carriers could not take for a later tick, or gives it up.
    async fn retry_later(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications
             SET claimed_until = now() + make_interval(secs => attempts * $2),
                 failure = CASE WHEN attempts >= $3
                                THEN 'no carrier could take it after ' || attempts || ' attempts'
                           END
             WHERE id = $1",
        )
        .bind(id)
        .bind(TICK.as_secs_f64() * 4.0)
        .bind(MAX_ATTEMPTS)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}

async fn preferences_of(
    conn: &mut PgConnection,
    org: &str,
    user: &str,
) -> Result<Option<Preferences>, sqlx::Error> {
    let found: Option<Json<Preferences>> = sqlx::query_scalar(
        "SELECT state FROM notification_preferences WHERE org_id = $1 AND user_id = $2",
    )
    .bind(org)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(found.map(|json| json.0))
}

/// A notification due to be sent, as claimed.
#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    org_id: String,
    channel: String,
    language: String,
    phone: String,
    text: String,
}

/// One notification to schedule: to whom, how, what, and not before when.
struct Scheduled {
    user: String,
    channel: Channel,
    language: Language,
    phone: comms_proto::PhoneNumber,
    text: String,
    send_at: DateTime<Utc>,
}

/// Follows the platform's task and project events: each becomes notifications, scheduled in
/// the consumer's transaction.
pub struct NotificationFeed;

/// What to tell whom: the event's kind, the recipients, and the text in a language.
struct Notice {
    kind: &'static str,
    recipients: Vec<String>,
    text: Box<dyn Fn(Language) -> String + Send + Sync>,
}

fn notice(envelope: &Envelope) -> Result<Option<Notice>, HandleError> {
    if TaskEvent::contains(&envelope.event_type) {
        let (kind, task, write): (_, _, fn(_, &_) -> String) =
            match envelope.decode::<TaskEvent>()? {
                TaskEvent::Assigned(task) => ("task_assigned", task.0, texts::assigned),
                TaskEvent::Overdue(task) => ("task_overdue", task.0, texts::overdue),
            };
        return Ok(Some(Notice {
            kind,
            recipients: vec![task.assignee_id.clone()],
            text: Box::new(move |language| write(language, &task)),
        }));
    }
    if ProjectEvent::contains(&envelope.event_type) {
        let ProjectEvent::MilestoneReached(reached) = envelope.decode::<ProjectEvent>()?;
        return Ok(Some(Notice {
            kind: "milestone_reached",
            recipients: reached.member_ids.clone(),
            text: Box::new(move |language| texts::milestone(language, &reached)),
        }));
    }
    Ok(None)
}

impl Handler for NotificationFeed {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let Some(notice) = notice(envelope)? else {
            return Ok(()); // not bound
        };
        let org = envelope.organization_id.as_str();
        let now = Utc::now();
        let mut scheduled = Vec::new();
        for user in notice
            .recipients
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
        {
            let preferences = preferences_of(conn, org, user)
                .await
                .map_err(|e| HandleError::from_api("reading preferences", store_error(e)))?
                .ok_or_else(|| {
                    HandleError::Reject(format!(
                        "{}: unknown recipient {user:?}: no notification preferences in organization {org}",
                        envelope.event_type
                    ))
                })?;
            let Some(phone) = preferences
                .phone
                .clone()
                .filter(|_| preferences.channel != Channel::None)
            else {
                continue; // they asked for none
            };
            let zone = preferences.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let window = preferences
                .quiet_hours
                .as_ref()
                .and_then(|q| quiet::Window::parse(&q.from, &q.to).ok());
            scheduled.push(Scheduled {
                user: user.clone(),
                channel: preferences.channel,
                language: preferences.language,
                phone,
                text: (notice.text)(preferences.language),
                send_at: quiet::send_at(now, zone, window),
            });
        }
        for notification in scheduled {
            schedule(conn, envelope, notice.kind, &notification)
                .await
                .map_err(|e| HandleError::from_api("scheduling a notification", store_error(e)))?;
        }
        Ok(())
    }
}

/// One notification, once per event and recipient.
async fn schedule(
    conn: &mut PgConnection,
    envelope: &Envelope,
    kind: &str,
    notification: &Scheduled,
) -> Result<(), sqlx::Error> {
    let user = &notification.user;
    let id = Uuid::new_v5(&IDS, format!("{}\n{user}", envelope.id).as_bytes());
    sqlx::query(
        "INSERT INTO notifications (id, org_id, user_id, event_id, kind, channel, language, phone,
                                    text, send_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(&envelope.organization_id)
    .bind(user)
    .bind(envelope.id)
    .bind(kind)
    .bind(match notification.channel {
        Channel::Call => "call",
        _ => "sms",
    })
    .bind(notification.language.as_str())
    .bind(notification.phone.as_str())
    .bind(&notification.text)
    .bind(notification.send_at)
    .execute(conn)
    .await?;
    Ok(())
}
