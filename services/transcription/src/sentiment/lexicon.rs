//! The built-in sentiment scorer: a small lexicon of plainly positive and negative words per
//! language, for a fleet without an OpenAI key (and for a window OpenAI could not answer for).
//! It counts the words a caller uses, turned around by a negation just before ("not happy",
//! "pas content", "nicht zufrieden"); it reads no sarcasm and no context, and says which words it
//! went by, so nobody mistakes it for more than it is.
//!
//! Words are written as stems where a language inflects ("frustrat" for frustrated and
//! frustrating): a stem of four letters or more matches the words it begins. Chinese and
//! Japanese are not written with spaces: their phrases are found in the text, longest first, with
//! their negated forms listed as phrases of their own ("不满意", "満足していない").

use comms_events::call::SentimentLabel;
use comms_proto::Language;

/// A lexicon's reading of some text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub label: SentimentLabel,
    /// From -1 to 1: (positive − negative) / (positive + negative + 1).
    pub score: f64,
    pub reason: String,
}

/// A score at or beyond ±0.25 is a label: one plain word alone (±0.5) is enough, one of each
/// is neutral.
const THRESHOLD: f64 = 0.25;

pub fn read(language: Language, text: &str) -> Reading {
    let words = Words::of(language);
    let (positive, negative) = match language {
        Language::Zh | Language::Ja => phrases(&words, text),
        _ => tokens(&words, text),
    };
    let (p, n) = (positive.len() as f64, negative.len() as f64);
    let score = (p - n) / (p + n + 1.0);
    let label = if score >= THRESHOLD {
        SentimentLabel::Positive
    } else if score <= -THRESHOLD {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    };
    let list = |found: &[String]| {
        if found.is_empty() {
            "none".to_owned()
        } else {
            found.join(", ")
        }
    };
    let reason = format!(
        "lexicon: positive words {}; negative words {}",
        list(&positive),
        list(&negative)
    );
    Reading {
        label,
        score,
        reason,
    }
}

/// Words split at anything but letters, digits and apostrophes, each weighed with a negation in
/// the two words before it turning it around.
fn tokens(words: &Words, text: &str) -> (Vec<String>, Vec<String>) {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|t| !t.is_empty())
        .collect();
    let (mut positive, mut negative) = (Vec::new(), Vec::new());
    for (i, token) in tokens.iter().enumerate() {
        let is = |list: &[&str]| list.iter().any(|stem| matches_stem(token, stem));
        let polarity = if is(words.positive) {
            1
        } else if is(words.negative) {
            -1
        } else {
            continue;
        };
        let negated = tokens[i.saturating_sub(2)..i]
            .iter()
            .any(|before| words.negations.iter().any(|n| negates(before, n)));
        let word = if negated {
            format!("not {token}")
        } else {
            (*token).to_owned()
        };
        match polarity * if negated { -1 } else { 1 } {
            1 => positive.push(word),
            _ => negative.push(word),
        }
    }
    (positive, negative)
}

/// A negation word, or a clitic that begins one ("n'" in "n'est").
fn negates(token: &str, negation: &str) -> bool {
    token == negation || (negation.ends_with('\'') && token.starts_with(negation))
}

fn matches_stem(token: &str, stem: &str) -> bool {
    token == stem || (stem.chars().count() >= 4 && token.starts_with(stem))
}

/// Phrases found in the text from left to right, the longest at each place first.
fn phrases(words: &Words, text: &str) -> (Vec<String>, Vec<String>) {
    let mut all: Vec<(&str, bool)> = words
        .positive
        .iter()
        .map(|p| (*p, true))
        .chain(words.negative.iter().map(|n| (*n, false)))
        .collect();
    all.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
    let (mut positive, mut negative) = (Vec::new(), Vec::new());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match all.iter().find(|(phrase, _)| rest.starts_with(phrase)) {
            Some((phrase, is_positive)) => {
                if *is_positive {
                    positive.push((*phrase).to_owned());
                } else {
                    negative.push((*phrase).to_owned());
                }
                rest = &rest[phrase.len()..];
            }
            None => rest = &rest[c.len_utf8()..],
        }
    }
    (positive, negative)
}

struct Words {
    positive: &'static [&'static str],
    negative: &'static [&'static str],
    /// Words that turn the next two around (spaced languages only).
    negations: &'static [&'static str],
}

impl Words {
    fn of(language: Language) -> Self {
        match language {
            Language::En => Self {
                positive: &[
                    "thank",
                    "great",
                    "good",
                    "excellent",
                    "perfect",
                    "happy",
                    "glad",
                    "love",
                    "wonderful",
                    "helpful",
                    "appreciat",
                    "awesome",
                    "resolved",
                    "pleased",
                    "fantastic",
                    "nice",
                    "brilliant",
                ],
                negative: &[
                    "angry",
                    "terrible",
                    "awful",
                    "bad",
                    "horrible",
                    "worst",
                    "unacceptable",
                    "frustrat",
                    "annoy",
                    "ridiculous",
                    "disappoint",
                    "useless",
                    "cancel",
                    "complain",
                    "complaint",
                    "hate",
                    "upset",
                    "furious",
                    "rude",
                ],
                negations: &[
                    "not", "never", "don't", "didn't", "isn't", "wasn't", "can't", "won't",
                    "aren't", "don’t", "didn’t", "isn’t", "wasn’t",
                ],
            },
            Language::Es => Self {
                positive: &[
                    "gracias",
                    "excelente",
                    "perfect",
                    "genial",
                    "bueno",
                    "buena",
                    "feliz",
                    "encantad",
                    "amable",
                    "maravill",
                    "agradec",
                    "resuelto",
                    "contento",
                    "contenta",
                    "estupend",
                ],
                negative: &[
                    "terrible",
                    "horrible",
                    "pésim",
                    "enfadad",
                    "enojad",
                    "furios",
                    "inaceptable",
                    "molest",
                    "decepcion",
                    "frustrad",
                    "ridícul",
                    "mal",
                    "malo",
                    "mala",
                    "cancelar",
                    "queja",
                    "odio",
                    "harto",
                    "harta",
                    "inútil",
                    "vergüenza",
                ],
                negations: &["no", "nunca", "nada", "ni", "tampoco"],
            },
            Language::Fr => Self {
                positive: &[
                    "merci",
                    "excellent",
                    "parfait",
                    "génial",
                    "super",
                    "bien",
                    "content",
                    "ravi",
                    "ravie",
                    "heureux",
                    "heureuse",
                    "aimable",
                    "formidable",
                    "résolu",
                    "satisfait",
                ],
                negative: &[
                    "terrible",
                    "horrible",
                    "nul",
                    "nulle",
                    "inacceptable",
                    "furieu",
                    "énervé",
                    "fâché",
                    "déçu",
                    "frustr",
                    "ridicule",
                    "pire",
                    "annuler",
                    "plainte",
                    "inadmissible",
                    "mécontent",
                    "inutile",
                    "scandal",
                    "honte",
                ],
                negations: &["pas", "jamais", "ne", "n'", "plus", "aucun", "aucune"],
            },
            Language::De => Self {
                positive: &[
                    "danke",
                    "super",
                    "toll",
                    "prima",
                    "perfekt",
                    "gut",
                    "zufrieden",
                    "freundlich",
                    "hilfreich",
                    "wunderbar",
                    "ausgezeichnet",
                    "großartig",
                    "gelöst",
                    "freue",
                    "klasse",
                ],
                negative: &[
                    "schrecklich",
                    "furchtbar",
                    "schlecht",
                    "wütend",
                    "ärger",
                    "verärgert",
                    "inakzeptabel",
                    "enttäuscht",
                    "frustriert",
                    "lächerlich",
                    "kündig",
                    "beschwer",
                    "katastroph",
                    "unverschämt",
                    "nutzlos",
                    "sauer",
                    "unmöglich",
                ],
                negations: &["nicht", "kein", "keine", "keinen", "nie", "niemals"],
            },
            Language::It => Self {
                positive: &[
                    "grazie",
                    "ottimo",
                    "ottima",
                    "perfett",
                    "bene",
                    "bravo",
                    "brava",
                    "gentile",
                    "contento",
                    "contenta",
                    "felice",
                    "fantastic",
                    "eccellente",
                    "risolto",
                    "meraviglios",
                ],
                negative: &[
                    "terribile",
                    "orribile",
                    "pessim",
                    "arrabbiat",
                    "furios",
                    "inaccettabile",
                    "delus",
                    "frustrat",
                    "ridicol",
                    "male",
                    "disdire",
                    "annullare",
                    "reclamo",
                    "vergogna",
                    "inutile",
                    "schifo",
                    "assurdo",
                ],
                negations: &["non", "mai", "niente", "nessun", "nessuna"],
            },
            Language::Pt => Self {
                positive: &[
                    "obrigad",
                    "ótimo",
                    "ótima",
                    "perfeit",
                    "excelente",
                    "bom",
                    "boa",
                    "feliz",
                    "contente",
                    "maravilh",
                    "agradeç",
                    "resolvido",
                    "simpátic",
                    "satisfeit",
                ],
                negative: &[
                    "terrível",
                    "horrível",
                    "péssim",
                    "irritad",
                    "furios",
                    "inaceitável",
                    "decepcion",
                    "frustrad",
                    "ridícul",
                    "mau",
                    "má",
                    "cancelar",
                    "reclamação",
                    "odeio",
                    "absurd",
                    "inútil",
                    "chatead",
                    "vergonha",
                ],
                negations: &["não", "nunca", "nada", "nem", "jamais"],
            },
            Language::Zh => Self {
                positive: &[
                    "谢谢",
                    "感谢",
                    "很好",
                    "满意",
                    "太好了",
                    "完美",
                    "棒",
                    "高兴",
                    "解决了",
                    "不错",
                    "开心",
                    "专业",
                ],
                negative: &[
                    "生气",
                    "糟糕",
                    "太差",
                    "失望",
                    "愤怒",
                    "投诉",
                    "取消",
                    "不满",
                    "不满意",
                    "荒唐",
                    "差劲",
                    "不能接受",
                    "不好",
                    "不高兴",
                    "受够",
                    "垃圾",
                    "气死",
                ],
                negations: &[],
            },
            Language::Ja => Self {
                positive: &[
                    "ありがとう",
                    "助かり",
                    "助かった",
                    "素晴らしい",
                    "完璧",
                    "満足",
                    "嬉しい",
                    "うれしい",
                    "良かった",
                    "よかった",
                    "最高",
                    "解決",
                    "丁寧",
                ],
                negative: &[
                    "ひどい",
                    "酷い",
                    "最悪",
                    "怒",
                    "不満",
                    "がっかり",
                    "失望",
                    "許せない",
                    "解約",
                    "苦情",
                    "腹が立",
                    "ありえない",
                    "満足していない",
                    "満足できない",
                    "満足できません",
                    "解決していない",
                    "困って",
                    "いい加減",
                ],
                negations: &[],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negation_turns_the_word_after_it_around() {
        let reading = read(Language::En, "I'm not happy, this is not good at all.");
        assert_eq!(reading.label, SentimentLabel::Negative, "{reading:?}");
        assert!(reading.reason.contains("not happy"), "{reading:?}");
        let reading = read(Language::Fr, "Je ne suis pas content.");
        assert_eq!(reading.label, SentimentLabel::Negative, "{reading:?}");
    }

    #[test]
    fn stems_match_the_words_they_begin_and_short_words_only_themselves() {
        assert_eq!(
            read(Language::En, "So frustrating").label,
            SentimentLabel::Negative
        );
        // "bad" is a word, not a stem: "badge" says nothing.
        assert_eq!(
            read(Language::En, "my badge number").label,
            SentimentLabel::Neutral
        );
        // Neither, or one of each, is neutral.
        assert_eq!(read(Language::En, "Hello there").score, 0.0);
        assert_eq!(
            read(Language::En, "good but terrible").label,
            SentimentLabel::Neutral
        );
    }

    #[test]
    fn the_longest_phrase_is_read_at_each_place() {
        // 不满意 (dissatisfied) is one negative phrase, not 不满 and then nothing.
        let reading = read(Language::Zh, "我很不满意");
        assert_eq!(
            reading.reason,
            "lexicon: positive words none; negative words 不满意"
        );
        let reading = read(Language::Ja, "全然満足していないです");
        assert_eq!(reading.label, SentimentLabel::Negative, "{reading:?}");
    }
}
