//! G.711 μ-law, the telephone network's 8-bit audio (what Twilio's media streams carry),
//! decoded to 16-bit linear samples.

/// One μ-law byte as a 16-bit sample (ITU-T G.711: the byte is stored inverted; a sign bit, a
/// 3-bit exponent and a 4-bit mantissa, with a bias of 0x84).
pub fn decode(byte: u8) -> i16 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = (byte >> 4) & 0x07;
    let mantissa = byte & 0x0F;
    let magnitude = ((i32::from(mantissa) << 3) + 0x84) << exponent;
    let sample = magnitude - 0x84;
    (if sign != 0 { -sample } else { sample }) as i16
}

/// A 16-bit sample as μ-law (for tests that make a carrier's audio from a recording).
pub fn encode(sample: i16) -> u8 {
    const CLIP: i32 = 32_635;
    let mut value = i32::from(sample);
    let sign = if value < 0 { 0x80 } else { 0 };
    if value < 0 {
        value = -value;
    }
    value = value.min(CLIP) + 0x84;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && value & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_decode_to_the_standard_values() {
        // Silence is 0xFF (and 0x7F); the loudest codes are 0x00 and 0x80.
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x7F), 0);
        assert_eq!(decode(0x00), -32_124);
        assert_eq!(decode(0x80), 32_124);
    }

    #[test]
    fn encoding_then_decoding_keeps_a_sample_within_its_step() {
        for sample in (-32_000i32..32_000).step_by(97) {
            let back = i32::from(decode(encode(sample as i16)));
            // μ-law's step grows with the magnitude: at most 1/16 of it, plus the bias.
            let tolerance = sample.abs() / 16 + 8;
            assert!(
                (back - sample).abs() <= tolerance,
                "{sample} came back {back}"
            );
        }
    }
}
