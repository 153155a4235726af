//! The domain ⇄ `comms.v1` messages. Incoming settings and contacts are checked field by field,
//! every problem collected, so one response names them all.

use chrono::Weekday;
use comms_events::call::RecordingPolicy;
use comms_proto::time::to_timestamp;
use comms_proto::v1;
use comms_proto::{Language, PhoneNumber, Violations};

use crate::app::ContactStatus;
use crate::domain::campaign::{self, Settings, Trigger, TriggerAction};
use crate::domain::contact::{self, Contact, ContactFields};
use crate::domain::dialing::{RetryPolicy, RetryRule};
use crate::domain::field_problem;
use crate::domain::pacing::DialingMode;
use crate::domain::window;
use crate::store::campaigns::CampaignView;

/// `patch` laid over `base`: set fields replace, unset ones stay. Retry delays shorter than
/// `min_retry_delay` seconds (the operator's floor) are refused.
pub fn settings(
    base: Settings,
    patch: &v1::CampaignSettings,
    min_retry_delay: u32,
    violations: &mut Violations,
) -> Settings {
    let mut settings = base;
    if let Some(name) = &patch.name {
        settings.name = name.trim().to_owned();
    }
    if let Some(mode) = &patch.dialing_mode
        && let Some(mode) = violations.check("dialing_mode", DialingMode::parse(mode))
    {
        settings.dialing_mode = mode;
    }
    match patch.caller_id.as_deref() {
        None => {}
        Some("") => settings.caller_id = None,
        Some(number) => {
            settings.caller_id = violations.check("caller_id", PhoneNumber::parse(number));
        }
    }
    if let Some(code) = &patch.language
        && let Some(language) = violations.check("language", Language::parse(code))
    {
        settings.language = language;
    }
    match patch.voicemail_message.as_deref() {
        None => {}
        Some("") => settings.voicemail_message = None,
        Some(message) => settings.voicemail_message = Some(message.to_owned()),
    }
    match patch.recording.as_deref() {
        None => {}
        Some("") => settings.recording = None,
        Some(policy) => match RecordingPolicy::parse(policy) {
            Some(policy) => settings.recording = Some(policy),
            None => violations.add(
                "recording",
                format!("{policy:?} is not one of never, on_demand, always"),
            ),
        },
    }
    if let Some(window) = &patch.window {
        // The domain names the exact field (window.start, window.end, window.days).
        match window::parse(&window.start, &window.end, &window.days) {
            Ok(window) => settings.window = window,
            Err(error) => {
                let (field, reason) = field_problem(&error);
                violations.add(&field, reason);
            }
        }
    }
    if let Some(retry) = &patch.retry {
        let rules = [
            (&retry.no_answer, &mut settings.retry.no_answer),
            (&retry.busy, &mut settings.retry.busy),
            (&retry.failed, &mut settings.retry.failed),
            (&retry.voicemail, &mut settings.retry.voicemail),
        ];
        for (given, rule) in rules {
            if let Some(given) = given {
                *rule = RetryRule {
                    max_attempts: given.max_attempts,
                    delay_seconds: given.delay_seconds,
                };
            }
        }
    }
    if let Some(cap) = patch.abandon_cap {
        settings.abandon_cap = cap;
    }
    if patch.replace_do_not_call_lists || !patch.do_not_call_lists.is_empty() {
        settings.do_not_call_lists = patch.do_not_call_lists.clone();
    }
    if patch.clear_trigger {
        settings.trigger = None;
    }
    if let Some(trigger) = &patch.trigger {
        let action = match trigger.action.as_str() {
            "start" | "" => Some(TriggerAction::Start),
            "add_contact" => Some(TriggerAction::AddContact),
            other => violations.check(
                "trigger.action",
                Err(format!(
                    "{other:?} is not an action; use start or add_contact"
                )),
            ),
        };
        if trigger.matching.len() > contact::MAX_FIELDS {
            violations.add(
                "trigger.matching",
                format!("at most {} fields", contact::MAX_FIELDS),
            );
        }
        for (field, value) in &trigger.matching {
            violations.check("trigger.matching", contact::check_text_field(field, value));
        }
        if let Some(action) = action {
            settings.trigger = Some(Trigger {
                event: trigger.event.clone(),
                matching: trigger.matching.clone().into_iter().collect(),
                action,
            });
        }
    }
    if let Err(error) = campaign::validate(&settings) {
        let (field, reason) = field_problem(&error);
        violations.add(&field, reason);
    }
    let retry = &settings.retry;
    for (field, rule) in [
        ("retry.no_answer", retry.no_answer),
        ("retry.busy", retry.busy),
        ("retry.failed", retry.failed),
        ("retry.voicemail", retry.voicemail),
    ] {
        if rule.delay_seconds < min_retry_delay {
            violations.add(
                field,
                format!(
                    "delay_seconds must be at least {min_retry_delay} (MIN_RETRY_DELAY_SECONDS)"
                ),
            );
        }
    }
    settings
}

fn weekday(day: Weekday) -> String {
    day.to_string().to_lowercase()
}

fn rule(rule: RetryRule) -> v1::RetryRule {
    v1::RetryRule {
        max_attempts: rule.max_attempts,
        delay_seconds: rule.delay_seconds,
    }
}

fn retry(policy: &RetryPolicy) -> v1::RetryPolicy {
    v1::RetryPolicy {
        no_answer: Some(rule(policy.no_answer)),
        busy: Some(rule(policy.busy)),
        failed: Some(rule(policy.failed)),
        voicemail: Some(rule(policy.voicemail)),
    }
}

/// Counts the API shows with a campaign.
pub struct Counts {
    pub contacts: i64,
    pub open: i64,
    pub calls: i64,
}

pub fn campaign(view: &CampaignView, counts: Counts) -> v1::Campaign {
    let (campaign, settings) = (&view.campaign, &view.campaign.settings);
    v1::Campaign {
        id: campaign.id.to_string(),
        name: settings.name.clone(),
        dialing_mode: settings.dialing_mode.as_str().to_owned(),
        caller_id: settings
            .caller_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        language: settings.language.as_str().to_owned(),
        window: Some(v1::CallingWindow {
            start: settings.window.start.format("%H:%M").to_string(),
            end: settings.window.end.format("%H:%M").to_string(),
            days: settings.window.days.iter().copied().map(weekday).collect(),
        }),
        retry: Some(retry(&settings.retry)),
        abandon_cap: settings.abandon_cap,
        do_not_call_lists: settings.do_not_call_lists.clone(),
        trigger: settings.trigger.as_ref().map(|t| v1::Trigger {
            event: t.event.clone(),
            matching: t.matching.clone().into_iter().collect(),
            action: match t.action {
                TriggerAction::Start => "start",
                TriggerAction::AddContact => "add_contact",
            }
            .to_owned(),
        }),
        recording: settings
            .recording
            .map(|policy| policy.as_str().to_owned())
            .unwrap_or_default(),
        voicemail_message: settings.voicemail_message.clone().unwrap_or_default(),
        status: campaign.status.as_str().to_owned(),
        created_at: Some(to_timestamp(campaign.created_at)),
        updated_at: Some(to_timestamp(campaign.updated_at)),
        started_at: campaign.started_at.map(to_timestamp),
        ended_at: campaign.ended_at.map(to_timestamp),
        progress: Some(v1::CampaignProgress {
            contacts: counts.contacts,
            open: counts.open,
            calls_in_progress: counts.calls,
            answered: view.measured.answered,
            abandoned: view.measured.abandoned,
            abandon_rate: view.measured.abandon_rate(),
            answer_rate: view.measured.observed_answer_rate(),
            average_handle_seconds: view.measured.observed_handle_seconds(),
        }),
    }
}

/// A contact's fields from the API, every problem named (`<prefix>name`, `<prefix>phones`, …).
pub fn contact_fields(
    given: &v1::ContactFields,
    prefix: &str,
    violations: &mut Violations,
) -> ContactFields {
    let field = |name: &str| format!("{prefix}{name}");
    let phones = given
        .phones
        .iter()
        .enumerate()
        .filter_map(|(i, number)| {
            violations.check(&field(&format!("phones[{i}]")), PhoneNumber::parse(number))
        })
        .collect();
    let language = if given.language.is_empty() {
        Language::En
    } else {
        violations
            .check(&field("language"), Language::parse(&given.language))
            .unwrap_or(Language::En)
    };
    let fields = ContactFields {
        name: given.name.trim().to_owned(),
        phones,
        language,
        time_zone: Some(given.time_zone.clone()).filter(|z| !z.is_empty()),
        custom_fields: given.custom_fields.clone().into_iter().collect(),
        consent: given.consent,
        do_not_call: given.do_not_call,
        external_id: Some(given.external_id.clone()).filter(|id| !id.is_empty()),
    };
    if given.phones.is_empty() {
        violations.add(&field("phones"), "at least one E.164 number");
    } else if fields.phones.len() == given.phones.len() {
        // With every number valid (each bad one is named above), the rest of the checks.
        if let Err(error) = contact::validate(&fields) {
            let (name, reason) = field_problem(&error);
            violations.add(&field(&name), reason);
        }
    }
    fields
}

pub fn contact(contact: &Contact) -> v1::Contact {
    let fields = &contact.fields;
    v1::Contact {
        id: contact.id.to_string(),
        fields: Some(v1::ContactFields {
            name: fields.name.clone(),
            phones: fields.phones.iter().map(ToString::to_string).collect(),
            language: fields.language.as_str().to_owned(),
            time_zone: fields.time_zone.clone().unwrap_or_default(),
            custom_fields: fields.custom_fields.clone().into_iter().collect(),
            consent: fields.consent,
            do_not_call: fields.do_not_call,
            external_id: fields.external_id.clone().unwrap_or_default(),
        }),
        effective_time_zones: contact
            .zones()
            .iter()
            .map(|z| z.name().to_owned())
            .collect(),
        created_at: Some(to_timestamp(contact.created_at)),
        updated_at: Some(to_timestamp(contact.updated_at)),
    }
}

pub fn campaign_contact(status: &ContactStatus) -> v1::CampaignContact {
    v1::CampaignContact {
        contact_id: status.contact.id.to_string(),
        name: status.contact.fields.name.clone(),
        phone: status.contact.fields.phones[0].to_string(),
        priority: status.member.priority,
        attempts: status.state.attempts,
        last_outcome: status
            .state
            .last_outcome
            .map(|o| o.as_str().to_owned())
            .unwrap_or_default(),
        status: status.status.to_owned(),
        reason: status.reason.clone().unwrap_or_default(),
        retry_at: status.state.retry_at.map(to_timestamp),
    }
}
