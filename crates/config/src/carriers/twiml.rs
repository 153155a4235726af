//! TwiML, the instructions Twilio asks for when a call is answered
//! (<https://www.twilio.com/docs/voice/twiml>): a small writer that escapes what it is given.

use comms_proto::Language;

/// One instruction (verb) of a `<Response>`.
pub enum Verb<'a> {
    /// Speaks `text` in `language`.
    Say {
        language: Language,
        text: &'a str,
    },
    /// Plays the audio at `url`.
    Play {
        url: &'a str,
    },
    Pause {
        seconds: u32,
    },
    /// Speaks or plays `prompt` while listening for keys and/or speech; Twilio posts what it
    /// heard to `action` (`Digits`, `SpeechResult`). With nothing heard before `timeout`, it
    /// goes on with the next verb.
    Gather {
        prompt: Box<Verb<'a>>,
        action: &'a str,
        dtmf: bool,
        speech: bool,
        timeout: u32,
        /// Keys an answer is; 0: Twilio's default (`#` ends it).
        digits: u32,
        language: Language,
        hints: &'a [String],
    },
    /// Connects the caller to `number` (E.164).
    DialNumber {
        number: &'a str,
    },
    /// Records the caller (after a beep) for up to `max_seconds`, reported at `callback`;
    /// then Twilio asks `action` what next (without one it would ask the current URL again
    /// and record again).
    Record {
        max_seconds: u32,
        callback: &'a str,
        action: &'a str,
    },
    /// Asks Twilio for new instructions at `url`.
    Redirect {
        url: &'a str,
    },
    /// Puts the caller in the conference `name`, which starts as they enter (no hold music)
    /// and ends, with every other participant, when they leave; without a beep.
    Conference {
        name: &'a str,
    },
    Hangup,
    /// Records the call in the background from now, both parties on their own channel;
    /// Twilio reports on the recording at `callback`.
    StartRecording {
        callback: &'a str,
    },
}

pub fn response(verbs: &[Verb<'_>]) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for verb in verbs {
        write(&mut xml, verb);
    }
    xml.push_str("</Response>");
    xml
}

fn write(xml: &mut String, verb: &Verb<'_>) {
    {
        match verb {
            Verb::Say { language, text } => xml.push_str(&format!(
                r#"<Say language="{}">{}</Say>"#,
                super::locale(*language, super::Dialect::Twilio),
                escape(text)
            )),
            Verb::Pause { seconds } => xml.push_str(&format!(r#"<Pause length="{seconds}"/>"#)),
            Verb::Play { url } => xml.push_str(&format!("<Play>{}</Play>", escape(url))),
            Verb::Gather {
                prompt,
                action,
                dtmf,
                speech,
                timeout,
                digits,
                language,
                hints,
            } => {
                let input = match (dtmf, speech) {
                    (true, true) => "dtmf speech",
                    (false, true) => "speech",
                    _ => "dtmf",
                };
                xml.push_str(&format!(
                    r#"<Gather input="{input}" action="{}" method="POST" timeout="{timeout}" language="{}""#,
                    escape(action),
                    super::locale(*language, super::Dialect::Twilio),
                ));
                if *digits > 0 {
                    xml.push_str(&format!(r#" numDigits="{digits}""#));
                }
                if *speech && !hints.is_empty() {
                    xml.push_str(&format!(r#" hints="{}""#, escape(&hints.join(", "))));
                }
                xml.push('>');
                write(xml, prompt);
                xml.push_str("</Gather>");
            }
            Verb::DialNumber { number } => {
                xml.push_str(&format!("<Dial><Number>{}</Number></Dial>", escape(number)));
            }
            Verb::Record {
                max_seconds,
                callback,
                action,
            } => xml.push_str(&format!(
                r#"<Record maxLength="{max_seconds}" playBeep="true" action="{}" method="POST" recordingStatusCallback="{}" recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="completed absent"/>"#,
                escape(action),
                escape(callback)
            )),
            Verb::Redirect { url } => xml.push_str(&format!(
                r#"<Redirect method="POST">{}</Redirect>"#,
                escape(url)
            )),
            Verb::Conference { name } => xml.push_str(&format!(
                r#"<Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true" beep="false">{}</Conference></Dial>"#,
                escape(name)
            )),
            Verb::Hangup => xml.push_str("<Hangup/>"),
            Verb::StartRecording { callback } => xml.push_str(&format!(
                r#"<Start><Recording channels="dual" recordingStatusCallback="{}" recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="in-progress completed absent"/></Start>"#,
                escape(callback)
            )),
        }
    }
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_twiml() {
        let xml = response(&[
            Verb::Say {
                language: Language::Ja,
                text: "おつなぎしますので、少々お待ちください。",
            },
            Verb::Redirect {
                url: "https://x.test/a?b=1&c=<2>",
            },
        ]);
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ja-JP">おつなぎしますので、少々お待ちください。</Say><Redirect method="POST">https://x.test/a?b=1&amp;c=&lt;2&gt;</Redirect></Response>"#
        );
    }
}
