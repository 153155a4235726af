pub mod fake_deepgram;
