//! How people of the organization want to be told of what other platform modules publish
//! (a task assigned to them, a task overdue, a project's milestone): stream
//! `notification_preferences-<uuid>` (one per organization and user), published as
//! `comms.notification_preferences.*`, kept by the calls service, which sends the notifications.

use chrono::{DateTime, Utc};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

crate::event_set! {
    /// Every event of a user's notification preferences stream.
    pub enum NotificationPreferencesEvent bound as "comms.notification_preferences.*" {
        Changed(PreferencesChanged),
    }
}

/// How a user is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text to `phone`.
    Sms,
    /// A call to `phone` that says it, in their language.
    Call,
    /// Not at all.
    None,
}

/// A daily window, in the user's zone, when nothing is sent: what falls in it is sent when it
/// ends. `from` after `to` spans midnight (22:00 to 07:00).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub from: String,
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Preferences {
    pub channel: Channel,
    /// E.164; required with `sms` and `call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// The language notifications are written in.
    pub language: Language,
    /// An IANA zone: where the quiet hours are kept.
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

/// A user's preferences, as they now are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreferencesChanged {
    /// The platform's id of the user.
    #[schemars(length(min = 1, max = 128))]
    pub user_id: String,
    #[serde(flatten)]
    pub preferences: Preferences,
    pub at: DateTime<Utc>,
}

crate::events! {
    PreferencesChanged => "comms.notification_preferences.changed", version 1, "how a user is notified changed";
}
