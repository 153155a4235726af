//! How many segments a text costs. A text GSM-7 can carry travels in septets: 160 in one
//! segment, 153 in each of a longer text's (the rest is the concatenation header), characters of
//! the extension table (`^{}\[~]|€`, form feed) taking two, never split across segments. Any
//! other character makes the whole text UCS-2: 70 UTF-16 units alone, 67 per segment, a
//! surrogate pair never split (3GPP TS 23.038; Twilio's and Vonage's segment calculators).

use comms_events::sms::Encoding;

/// GSM 03.38's basic character set (escape excluded).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: each is sent as escape + the character, two septets.
const EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// The encoding a text travels in and the segments it takes (1 for an empty text).
pub fn segments(text: &str) -> (Encoding, u32) {
    let septets: Option<Vec<usize>> = text
        .chars()
        .map(|c| {
            if BASIC.contains(c) {
                Some(1)
            } else if EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .collect();
    match septets {
        Some(sizes) => (Encoding::Gsm7, count(&sizes, 160, 153)),
        None => {
            let units: Vec<usize> = text.chars().map(char::len_utf16).collect();
            (Encoding::Ucs2, count(&units, 70, 67))
        }
    }
}

/// Segments for characters of `sizes` units: one when they fit in `single`, else packed
/// greedily into segments of `each`, a character never split.
fn count(sizes: &[usize], single: usize, each: usize) -> u32 {
    if sizes.iter().sum::<usize>() <= single {
        return 1;
    }
    let (mut segments, mut used) = (1, 0);
    for &size in sizes {
        if used + size > each {
            segments += 1;
            used = 0;
        }
        used += size;
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_texts_take_160_then_153_septets_a_segment() {
        assert_eq!(segments(""), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
        // Accented letters of the basic set stay GSM-7.
        assert_eq!(segments("Café à 5€, ¿qué?").0, Encoding::Gsm7);
        assert_eq!(segments("¿sí?").0, Encoding::Ucs2, "í is not GSM-7");
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"€".repeat(81)), (Encoding::Gsm7, 2));
        // 152 septets, then an escape pair that would straddle the first segment's end.
        let text = format!("{}{}", "a".repeat(152), "{".repeat(5));
        assert_eq!(segments(&text), (Encoding::Gsm7, 2));
        let text = format!("{}{}", "a".repeat(152), "{".repeat(77));
        assert_eq!(segments(&text), (Encoding::Gsm7, 3));
    }

    #[test]
    fn anything_else_makes_the_text_ucs2() {
        assert_eq!(
            segments("ç"),
            (Encoding::Ucs2, 1),
            "lowercase ç is not GSM-7"
        );
        assert_eq!(segments(&"你".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"你".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"お".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"お".repeat(135)), (Encoding::Ucs2, 3));
        // An emoji is a surrogate pair: two units, never split.
        assert_eq!(segments(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        // 134 units would fill two segments, but no pair straddles a segment's end.
        let text = format!("{}{}", "a".repeat(66), "😀".repeat(34));
        assert_eq!(segments(&text), (Encoding::Ucs2, 3));
    }
}
