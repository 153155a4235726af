#![allow(dead_code)] // each test binary uses its part

pub mod fake_deepgram;
pub mod wav;
