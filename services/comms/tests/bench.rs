//! `comms bench --quick` runs every section against the real PostgreSQL and RabbitMQ and reports
//! every figure. Speeds are not asserted (DEVELOPERS.md: benchmarks report, tests don't time).

use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_quick_bench_runs_every_section() {
    let mut options =
        comms_fleet::bench::Options::quick(PathBuf::from(env!("CARGO_BIN_EXE_comms")));
    options.admin_database_url = comms_testkit::admin_database_url();
    options.amqp_url = comms_testkit::amqp_url();
    let report = comms_fleet::bench::run(&options).await.unwrap();

    assert_eq!(
        report["append"].as_array().unwrap().len(),
        12,
        "1/8/64 writers × batch 1/10 × many/one stream"
    );
    for row in report["append"].as_array().unwrap() {
        assert!(
            row["append"]["count"].as_u64().unwrap() > 0
                && row["bare_insert"]["count"].as_u64().unwrap() > 0
        );
    }
    assert_eq!(report["relay"]["events"], options.relay_events);
    let loads: Vec<&str> = report["lag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["load"].as_str().unwrap())
        .collect();
    assert_eq!(loads, ["steady 500/s", "steady 2000/s", "burst"]);
    assert_eq!(
        report["rest"].as_array().unwrap().len(),
        9,
        "3 operations × 1/16/64 clients"
    );
    let services: Vec<&str> = report["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["calls", "analytics", "relay", "edge"]);
    assert!(
        report["memory"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["idle_mib"].as_f64().unwrap() > 0.0)
    );
    let callbacks = &report["callbacks"];
    assert!(
        callbacks["no_op"]["count"].as_u64().unwrap() > 0,
        "{callbacks}"
    );
    for phase in ["as fast as answered", "steady 100/s"] {
        let signed = &callbacks[phase]["signed_callbacks"]["count"];
        assert!(signed.as_u64().unwrap() > 0, "{callbacks}");
        assert_eq!(
            &callbacks[phase]["callback_to_exchange"]["count"], signed,
            "every answered call's event reached the exchange"
        );
    }
    assert_eq!(report["replay"]["events"], options.replay_events as u64);
    assert_eq!(report["auth"]["tokens"].as_array().unwrap().len(), 7);
    let live = report["live"].as_array().unwrap();
    assert_eq!(live.len(), options.live_sockets.len(), "{live:?}");
    for (row, sockets) in live.iter().zip(&options.live_sockets) {
        assert_eq!(
            row["feed"]["count"].as_u64().unwrap() as usize,
            options.live_events * sockets,
            "every event on every socket"
        );
        assert_eq!(row["amqp"]["count"], options.live_events as u64);
    }
    let transcription = report["transcription"]["levels"].as_array().unwrap();
    assert_eq!(transcription.len(), options.transcription_calls.len());
    for (level, calls) in transcription.iter().zip(&options.transcription_calls) {
        let seconds = level["seconds_per_call"].as_u64().unwrap();
        assert_eq!(
            level["frame_to_exchange"]["count"].as_u64().unwrap(),
            *calls as u64 * seconds,
            "every second of every call's audio reached the exchange as an utterance"
        );
        assert!(level["deepgram_own"]["count"].as_u64().unwrap() >= *calls as u64 * seconds);
    }
    let routing = report["routing"].as_array().unwrap();
    assert_eq!(routing.len(), 2, "1 and 16 clients");
    assert!(
        routing.iter().all(|r| r["reserve"]["count"] == r["agents"]),
        "every reservation found an agent"
    );
}
