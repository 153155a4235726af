#![allow(dead_code)] // each test binary uses its part

pub mod bus;
pub mod calls;
pub mod fake_anthropic;
pub mod fake_deepgram;
pub mod fake_openai;
pub mod schemas;
pub mod wav;
