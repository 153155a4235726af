//! With `ENABLE_TRANSCRIPTION`, an answered Twilio call's audio is streamed to the transcription
//! service: both tracks, to the call's own media socket, whose token verifies for that call
//! and no other; once per call, however often Twilio repeats the answer.

use comms_auth::media_tokens::MediaTokens;
use reqwest::StatusCode;

use super::fake_twilio::FakeTwilio;
use super::support::ORG;
use super::{call_until, fleet_on, place, status};

const MEDIA_BASE_URL: &str = "wss://media.comms.example";
const SECRET: &str = "the fleet's media token secret, 32+";

#[tokio::test(flavor = "multi_thread")]
async fn an_answered_calls_audio_is_streamed_to_its_own_media_socket_once() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(
        &twilio,
        &[
            ("ENABLE_TRANSCRIPTION", "true"),
            ("MEDIA_BASE_URL", MEDIA_BASE_URL),
            ("MEDIA_TOKEN_SECRET", SECRET),
        ],
    )
    .await;
    let mut streams = Vec::new();
    for (n, to) in ["+14155550161", "+14155550162"].into_iter().enumerate() {
        let id = place(&fleet, to).await;
        let (sid, placed) = twilio.placed(to).await;
        call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
        twilio.set_status(&sid, "in-progress");
        // Twilio repeats the first call's answer: one stream all the same.
        for _ in 0..(2 - n) {
            assert_eq!(
                status(&twilio, &fleet, &placed, &sid, "in-progress").await,
                StatusCode::NO_CONTENT
            );
        }
        let path = format!("/Calls/{sid}/Streams.json");
        let asked = twilio.wait_for(&path, 1).await;
        streams.push((id, sid, asked[0].clone()));
    }
    let tokens = MediaTokens::new(SECRET.as_bytes());
    let now = chrono::Utc::now().timestamp();
    for (id, _, stream) in &streams {
        assert_eq!(stream.one("Track"), "both_tracks");
        assert_eq!(
            (
                stream.one("Parameter1.Name"),
                stream.one("Parameter1.Value")
            ),
            ("language", "en")
        );
        let url = stream.one("Url");
        let prefix = format!("{MEDIA_BASE_URL}/media/twilio/{ORG}/{id}/");
        let token = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
        let call: uuid::Uuid = id.parse().unwrap();
        assert_eq!(tokens.verify(token, ORG, call, now), Ok(()));
        // Good for the call as long as it may last, and for no other call.
        let other: uuid::Uuid = streams
            .iter()
            .find(|(o, ..)| o != id)
            .unwrap()
            .0
            .parse()
            .unwrap();
        assert!(tokens.verify(token, ORG, other, now).is_err());
        assert!(tokens.verify(token, ORG, call, now + 4 * 3600).is_ok());
    }
    // The second call's stream came after the first's repeated answer: that repeat asked nothing.
    let (_, first_sid, _) = &streams[0];
    let asked = twilio
        .received()
        .into_iter()
        .filter(|r| {
            r.path
                .ends_with(&format!("/Calls/{first_sid}/Streams.json"))
        })
        .count();
    assert_eq!(asked, 1, "one stream per call");
    fleet.stop().await;
}
