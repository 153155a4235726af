//! Opt-out and opt-in keywords in the eight languages. A text is a keyword only when it is
//! nothing else (as carriers read them): "STOP" opts out, "please stop calling me at 5" does
//! not. Case, surrounding spaces and closing punctuation do not matter.

use comms_events::sms::Keyword;

/// Words that ask for no more messages or calls: the carriers' English set (Twilio's and the
/// CTIA's), and each language's usual words.
const STOP: &[&str] = &[
    // EN
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "OPT-OUT",
    "OPT OUT",
    "REVOKE",
    // ES
    "BAJA",
    "PARAR",
    "ALTO",
    "DETENER",
    "CANCELAR",
    // FR
    "ARRET",
    "ARRÊT",
    "DESABONNER",
    "DÉSABONNER",
    "DESINSCRIRE",
    "DÉSINSCRIRE",
    // DE
    "STOPP",
    "ABMELDEN",
    "ABBESTELLEN",
    // IT
    "ANNULLA",
    "BASTA",
    "FERMA",
    "DISISCRIVI",
    "CANCELLA",
    // PT
    "SAIR",
    "CANCELAR INSCRIÇÃO",
    "DESCADASTRAR",
    // ZH
    "退订",
    "取消订阅",
    "停止",
    "TD",
    // JA
    "配信停止",
    "解除",
    "停止します",
];

/// Words that ask for messages and calls again.
const START: &[&str] = &[
    "START",
    "UNSTOP", // EN
    "ALTA",
    "REANUDAR", // ES
    "DEMARRER",
    "DÉMARRER",
    "REPRENDRE", // FR
    "ANMELDEN",
    "FORTSETZEN", // DE
    "ISCRIVI",
    "RIPRENDI", // IT
    "INICIAR",
    "RETOMAR", // PT
    "订阅",
    "开始", // ZH
    "開始",
    "配信再開",
    "再開", // JA
];

/// The keyword `text` is, if it is one.
pub fn keyword(text: &str) -> Option<Keyword> {
    let closing = |c: char| c.is_whitespace() || ".!?。！？".contains(c);
    let word = text.trim().trim_end_matches(closing).trim().to_uppercase();
    if word.is_empty() || word.chars().count() > 40 {
        return None;
    }
    if STOP.contains(&word.as_str()) {
        Some(Keyword::Stop)
    } else if START.contains(&word.as_str()) {
        Some(Keyword::Start)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_and_start_in_the_eight_languages() {
        for stop in [
            "STOP",
            "stop",
            " Stop. ",
            "Baja",
            "arrêt",
            "Stopp",
            "annulla",
            "sair",
            "退订",
            "配信停止！",
        ] {
            assert_eq!(keyword(stop), Some(Keyword::Stop), "{stop:?}");
        }
        for start in [
            "START",
            "start!",
            "Alta",
            "démarrer",
            "anmelden",
            "iscrivi",
            "iniciar",
            "订阅",
            "開始",
        ] {
            assert_eq!(keyword(start), Some(Keyword::Start), "{start:?}");
        }
    }

    #[test]
    fn a_sentence_is_not_a_keyword() {
        for text in [
            "please stop calling me",
            "stop it now",
            "",
            "¿alta?",
            "STOP STOP",
        ] {
            assert_eq!(keyword(text), None, "{text:?}");
        }
    }
}
