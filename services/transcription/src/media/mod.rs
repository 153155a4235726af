//! Call audio as the carriers send it, read into 16-bit samples per speaker.

pub mod mulaw;
pub mod twilio;
pub mod vonage;
