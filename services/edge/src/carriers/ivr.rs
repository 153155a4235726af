//! An inbound call's turn in its IVR flow, said to the carrier: TwiML for Twilio, an NCCO for
//! Vonage. The calls service walks the flow (`WalkIvr`); this only renders what it answered.
//! A menu's answer comes back signed to `…/calls/{call_id}/ivr?node=…&attempt=…`, so a
//! repeated or late request names the place it answers and the calls service can tell.

use comms_proto::v1::ivr_turn::Then;
use comms_proto::{Language, v1};
use serde_json::{Value, json};

use super::twiml::{self, Verb};
use super::{Dialect, locale};
use crate::auth::Caller;
use crate::problem::ProblemResponse;
use crate::state::AppState;

/// How long a caller waiting for an agent is held before Twilio asks again.
const HOLD_SECONDS: u32 = 5;

/// The query naming a menu's answer: the node and the attempt it was asked.
pub fn answer_query(node: &str, attempt: u32) -> String {
    format!("node={node}&attempt={attempt}")
}

/// The call's next turn: from its start (no `node`), or the answer to the menu `node`.
pub async fn walk(
    state: &AppState,
    caller: &Caller,
    request: v1::WalkIvrRequest,
) -> Result<v1::IvrTurn, ProblemResponse> {
    Ok(state
        .calls
        .clone()
        .walk_ivr(caller.grpc(request)?)
        .await?
        .into_inner())
}

fn language_of(code: &str) -> Language {
    Language::parse(code).unwrap_or(Language::En)
}

/// TwiML for `turn`; `calls` is the call's callback URL (`…/webhooks/twilio/{org}/calls/{id}`).
pub fn twiml(turn: &v1::IvrTurn, calls: &str) -> String {
    let language = language_of(&turn.language);
    let mut verbs: Vec<Verb<'_>> = turn.prompts.iter().map(twilio_prompt).collect();
    let ask_url;
    let hold_url = format!("{calls}/answer?held=1");
    let record_to = format!("{calls}/recording");
    let after_voicemail = format!("{calls}/ivr?after=voicemail");
    let hints;
    match &turn.then {
        Some(Then::Ask(question)) => {
            ask_url = format!(
                "{calls}/ivr?{}",
                answer_query(&question.node, question.attempt)
            );
            hints = question.hints.clone();
            let prompt = question
                .prompt
                .as_ref()
                .map_or(Verb::Pause { seconds: 1 }, twilio_prompt);
            verbs.push(Verb::Gather {
                prompt: Box::new(prompt),
                action: &ask_url,
                dtmf: question.dtmf,
                speech: question.speech,
                timeout: question.timeout_seconds,
                digits: question.digits,
                language,
                hints: &hints,
            });
            // Nothing heard: Twilio goes on here, and the same URL hears "no answer".
            verbs.push(Verb::Redirect { url: &ask_url });
        }
        Some(Then::Queue(_)) => {
            verbs.extend([
                Verb::Say {
                    language,
                    text: super::hold_message(language),
                },
                Verb::Pause {
                    seconds: HOLD_SECONDS,
                },
                Verb::Redirect { url: &hold_url },
            ]);
        }
        Some(Then::Voicemail(voicemail)) => verbs.push(Verb::Record {
            max_seconds: voicemail.max_seconds,
            callback: &record_to,
            action: &after_voicemail,
        }),
        Some(Then::TransferTo(number)) => verbs.push(Verb::DialNumber { number }),
        Some(Then::HangUp(_)) | None => verbs.push(Verb::Hangup),
    }
    twiml::response(&verbs)
}

fn twilio_prompt(prompt: &v1::IvrPrompt) -> Verb<'_> {
    if prompt.audio_url.is_empty() {
        Verb::Say {
            language: language_of(&prompt.language),
            text: &prompt.text,
        }
    } else {
        Verb::Play {
            url: &prompt.audio_url,
        }
    }
}

/// An NCCO for `turn`; `calls` is the call's callback URL (`…/webhooks/vonage/{org}/calls/{id}`).
pub fn ncco(turn: &v1::IvrTurn, calls: &str) -> Value {
    let language = language_of(&turn.language);
    let mut actions: Vec<Value> = turn
        .prompts
        .iter()
        .map(|p| vonage_prompt(p, false))
        .collect();
    match &turn.then {
        Some(Then::Ask(question)) => {
            if let Some(prompt) = &question.prompt {
                actions.push(vonage_prompt(prompt, true));
            }
            let mut input = json!({
                "action": "input",
                "type": [],
                "eventUrl": [format!("{calls}/ivr?{}", answer_query(&question.node, question.attempt))],
                "eventMethod": "POST",
            });
            let mut kinds = Vec::new();
            if question.dtmf {
                kinds.push("dtmf");
                let max_digits = if question.digits > 0 {
                    question.digits
                } else {
                    20
                };
                input["dtmf"] = json!({
                    "maxDigits": max_digits,
                    "timeOut": question.timeout_seconds.min(10),
                    "submitOnHash": true,
                });
            }
            if question.speech {
                kinds.push("speech");
                input["speech"] = json!({
                    "language": locale(language, Dialect::Vonage),
                    "context": question.hints,
                    "startTimeout": question.timeout_seconds,
                });
            }
            input["type"] = json!(kinds);
            actions.push(input);
        }
        Some(Then::Queue(_)) => actions.push(json!({
            "action": "talk",
            "text": super::hold_message(language),
            "language": locale(language, Dialect::Vonage),
            "loop": 0,
        })),
        Some(Then::Voicemail(voicemail)) => actions.push(json!({
            "action": "record",
            "beepStart": true,
            "endOnSilence": 5,
            "timeOut": voicemail.max_seconds.max(3),
            "eventUrl": [format!("{calls}/recording")],
            "eventMethod": "POST",
        })),
        Some(Then::TransferTo(number)) => actions.push(json!({
            "action": "connect",
            "endpoint": [{"type": "phone", "number": number.trim_start_matches('+')}],
            // The caller id: one of the application's numbers (the SDK requires one).
            "randomFromNumber": true,
        })),
        // An NCCO that runs out ends the call.
        Some(Then::HangUp(_)) | None => {}
    }
    Value::Array(actions)
}

fn vonage_prompt(prompt: &v1::IvrPrompt, barge_in: bool) -> Value {
    if prompt.audio_url.is_empty() {
        json!({
            "action": "talk",
            "text": prompt.text,
            "language": locale(language_of(&prompt.language), Dialect::Vonage),
            "bargeIn": barge_in,
        })
    } else {
        json!({"action": "stream", "streamUrl": [prompt.audio_url], "bargeIn": barge_in})
    }
}
