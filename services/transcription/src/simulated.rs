//! The simulated transcriber, for a fleet without a carrier or Deepgram (`comms dev`): each
//! answered call is heard as a scripted conversation in its language, one line every
//! `line_every`, until the call ends — through the same transcript (assembling, redaction,
//! recording) as Deepgram's, so the whole path shows offline. It follows calls' answers and
//! ends on the bus; it reads no audio.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use comms_bus::{Envelope, HandleError, Handler};
use comms_events::call::{CallEvent, Transcriber};
use comms_eventstore::StreamName;
use comms_proto::Language;
use sqlx::PgConnection;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::warn;
use uuid::Uuid;

use crate::Speaker;
use crate::deepgram::{Heard, Segment};
use crate::session::{Settings, Transcript};

/// A call's conversation: who says what, in order. The caller is upset at first and pleased at
/// the end, so the sentiment's turn, its alert and its recovery show too.
pub fn conversation(language: Language) -> [(Speaker, &'static str); 5] {
    use Language::*;
    use Speaker::{Agent, Caller};
    let [a, b, c, d, e] = match language {
        En => [
            "Hi, I was charged twice for my last order. This is unacceptable.",
            "I'm sorry about that, let me check your account.",
            "The card was 4111 1111 1111 1111.",
            "Thank you, I have refunded the second charge.",
            "Great, thank you so much!",
        ],
        Es => [
            "Hola, me cobraron dos veces mi último pedido. Es inaceptable.",
            "Lo siento, déjeme revisar su cuenta.",
            "La tarjeta era 4111 1111 1111 1111.",
            "Gracias, ya le devolví el segundo cargo.",
            "¡Genial, muchas gracias!",
        ],
        Fr => [
            "Bonjour, j'ai été débité deux fois pour ma dernière commande. C'est inacceptable.",
            "Je suis désolé, je vérifie votre compte.",
            "La carte était 4111 1111 1111 1111.",
            "Merci, j'ai remboursé le second débit.",
            "Parfait, merci beaucoup !",
        ],
        De => [
            "Hallo, meine letzte Bestellung wurde doppelt abgebucht. Das ist inakzeptabel.",
            "Das tut mir leid, ich prüfe Ihr Konto.",
            "Die Karte war 4111 1111 1111 1111.",
            "Danke, ich habe die zweite Abbuchung erstattet.",
            "Super, danke sehr!",
        ],
        It => [
            "Buongiorno, mi avete addebitato due volte l'ultimo ordine. È inaccettabile.",
            "Mi dispiace, controllo il suo conto.",
            "La carta era 4111 1111 1111 1111.",
            "Grazie, ho rimborsato il secondo addebito.",
            "Perfetto, grazie mille!",
        ],
        Pt => [
            "Olá, fui cobrado duas vezes pelo meu último pedido. É inaceitável.",
            "Sinto muito, vou verificar a sua conta.",
            "O cartão era 4111 1111 1111 1111.",
            "Obrigado, já reembolsei a segunda cobrança.",
            "Ótimo, muito obrigado!",
        ],
        Zh => [
            "你好，我上一个订单被扣了两次款，我很生气。",
            "很抱歉，我来查一下您的账户。",
            "卡号是4111 1111 1111 1111。",
            "谢谢，我已经退还了第二笔扣款。",
            "太好了，谢谢！",
        ],
        Ja => [
            "もしもし、前回の注文で二重に請求されました。本当にひどいです。",
            "申し訳ございません、アカウントを確認いたします。",
            "カードは4111 1111 1111 1111です。",
            "ありがとうございます、二回目の請求を返金しました。",
            "よかったです、ありがとうございます！",
        ],
    };
    [
        (Caller, a),
        (Agent, b),
        (Caller, c),
        (Agent, d),
        (Caller, e),
    ]
}

/// Follows calls on the bus: an answer starts a call's conversation, its end completes the
/// transcript.
pub struct SimulatedTranscriber {
    settings: Arc<Settings>,
    line_every: Duration,
    /// The calls being heard, each with what ends it.
    calls: Arc<Mutex<HashMap<Uuid, oneshot::Sender<()>>>>,
}

impl SimulatedTranscriber {
    pub fn new(settings: Arc<Settings>, line_every: Duration) -> Self {
        Self {
            settings,
            line_every,
            calls: Arc::default(),
        }
    }

    /// The call's language, unless it is over already (a late or repeated answer).
    async fn language_of_going_call(
        &self,
        org: &str,
        call: Uuid,
    ) -> Result<Option<Language>, HandleError> {
        let stream = StreamName::new("call", call);
        let events = self
            .settings
            .store
            .read_stream(&stream, 0, 10_000)
            .await
            .map_err(|e| HandleError::Retry(e.into()))?;
        let mut language = None;
        for event in events.iter().filter(|e| e.tenant_id == org) {
            match comms_bus::decode_recorded::<CallEvent>(event) {
                Ok(CallEvent::Started(started)) => language = Some(started.language),
                Ok(CallEvent::IvrStep(step)) => language = Some(step.language),
                Ok(CallEvent::Rerouted(rerouted)) => language = Some(rerouted.language),
                Ok(CallEvent::Ended(_) | CallEvent::Failed(_) | CallEvent::Canceled(_)) => {
                    return Ok(None);
                }
                _ => {}
            }
        }
        Ok(language)
    }

    fn start(&self, org: &str, call: Uuid, language: Language) {
        let (end, ended) = oneshot::channel();
        {
            let mut calls = self.calls.lock().expect("not poisoned");
            if calls.contains_key(&call) {
                return;
            }
            calls.insert(call, end);
        }
        let transcript = Transcript::new(
            self.settings.clone(),
            org,
            call,
            language,
            Transcriber::Simulated,
        );
        let (calls, line_every) = (self.calls.clone(), self.line_every);
        tokio::spawn(async move {
            converse(transcript, language, line_every, ended).await;
            calls.lock().expect("not poisoned").remove(&call);
        });
    }

    fn end(&self, call: Uuid) {
        if let Some(end) = self.calls.lock().expect("not poisoned").remove(&call) {
            let _ = end.send(());
        }
    }
}

/// Says the conversation's lines until the call ends, then completes its transcript. A call that
/// outlasts its conversation is silent to its end (or four hours, the longest a call may last).
async fn converse(
    mut transcript: Transcript,
    language: Language,
    line_every: Duration,
    mut ended: oneshot::Receiver<()>,
) {
    let began = Instant::now();
    let seconds = |d: Duration| d.as_secs_f64();
    for (n, (speaker, text)) in conversation(language).into_iter().enumerate() {
        let said_by = began + line_every * (n as u32 + 1);
        tokio::select! {
            () = tokio::time::sleep_until(said_by) => {}
            _ = &mut ended => return transcript.complete(seconds(began.elapsed())).await,
        }
        let segment = Segment {
            speaker,
            start: seconds(line_every * n as u32 + line_every / 4),
            end: seconds(line_every * (n as u32 + 1)),
            text: text.to_owned(),
            confidence: 0.95,
            speech_final: true,
        };
        transcript.hear(Heard::Segment(segment)).await;
    }
    if tokio::time::timeout(Duration::from_secs(4 * 3_600), &mut ended)
        .await
        .is_err()
    {
        warn!("a simulated call never ended; its transcript is completed anyway");
    }
    transcript.complete(seconds(began.elapsed())).await;
}

impl Handler for SimulatedTranscriber {
    /// It appends, but later, from the conversations it starts: never in the consumer's
    /// transaction.
    const APPENDS: bool = false;

    async fn handle(
        &self,
        _conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let org = envelope.organization_id.as_str();
        match envelope.decode::<CallEvent>()? {
            CallEvent::Answered(answered) => {
                if let Some(language) = self.language_of_going_call(org, answered.call_id).await? {
                    self.start(org, answered.call_id, language);
                }
            }
            CallEvent::Ended(e) => self.end(e.call_id),
            CallEvent::Failed(e) => self.end(e.call_id),
            CallEvent::Canceled(e) => self.end(e.call_id),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::{REDACTED, Redactor};
    use crate::sentiment::lexicon;
    use comms_events::call::SentimentLabel;

    #[test]
    fn every_language_has_a_conversation_whose_card_number_is_redacted_and_whose_caller_turns() {
        let redactor = Redactor::new::<&str>(&[]).unwrap();
        for (language, _) in Language::ALL {
            let lines = conversation(language);
            assert_eq!(
                lines.map(|(s, _)| s),
                [
                    Speaker::Caller,
                    Speaker::Agent,
                    Speaker::Caller,
                    Speaker::Agent,
                    Speaker::Caller
                ]
            );
            let card = redactor.redact(lines[2].1);
            assert!(
                card.contains(REDACTED) && !card.contains("4111"),
                "{language:?}: {card}"
            );
            assert_eq!(redactor.redact(lines[0].1), lines[0].1, "{language:?}");
            // Upset at first, pleased at the end, as the lexicon reads the caller's windows.
            let caller = [lines[0].1, lines[2].1, lines[4].1];
            let first = lexicon::read(language, caller[0]);
            assert_eq!(
                first.label,
                SentimentLabel::Negative,
                "{language:?} {first:?}"
            );
            let last = lexicon::read(language, &caller.join("\n"));
            assert_eq!(
                last.label,
                SentimentLabel::Positive,
                "{language:?} {last:?}"
            );
        }
    }
}
