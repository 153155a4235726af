//! A real WAV file, made and read back the way a carrier's audio would start life: 16-bit PCM,
//! mono, RIFF headers and all.

/// A WAV of a `hz` tone for `seconds` at `rate`.
pub fn tone(hz: f64, seconds: f64, rate: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..(seconds * f64::from(rate)) as usize)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            (8_000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect();
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend(b"RIFF");
    wav.extend((36 + data.len() as u32).to_le_bytes());
    wav.extend(b"WAVEfmt ");
    wav.extend(16u32.to_le_bytes()); // the fmt chunk's size
    wav.extend(1u16.to_le_bytes()); // PCM
    wav.extend(1u16.to_le_bytes()); // mono
    wav.extend(rate.to_le_bytes());
    wav.extend((rate * 2).to_le_bytes()); // bytes a second
    wav.extend(2u16.to_le_bytes()); // bytes a sample
    wav.extend(16u16.to_le_bytes()); // bits a sample
    wav.extend(b"data");
    wav.extend((data.len() as u32).to_le_bytes());
    wav.extend(data);
    wav
}

/// The samples of a 16-bit mono PCM WAV, and its rate; the headers are checked, not trusted.
pub fn read(wav: &[u8]) -> (Vec<i16>, u32) {
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 1, "mono");
    let rate = u32::from_le_bytes(wav[24..28].try_into().unwrap());
    assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16, "16-bit");
    assert_eq!(&wav[36..40], b"data");
    let length = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    let samples = wav[44..44 + length]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect();
    (samples, rate)
}
