//! Given events, when a command, then events or an error.

use chrono::{DateTime, Duration, TimeZone, Utc};
use comms_events::Event as _;
use uuid::Uuid;

use super::*;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn initiate(id: Uuid) -> Command {
    initiate_recorded(id, RecordingPolicy::OnDemand)
}

fn initiate_recorded(id: Uuid, recording: RecordingPolicy) -> Command {
    Command::Initiate {
        call_id: id,
        to: PhoneNumber::parse("+14155550100").unwrap(),
        from: None,
        agent_id: None,
        campaign_id: None,
        language: Language::En,
        detect_machines: false,
        recording,
        announcement: None,
        at: t(0),
    }
}

/// Runs commands in order, applying what each decides; returns the state and the last result.
fn given(commands: Vec<Command>) -> Option<Call> {
    given_from(None, commands)
}

/// Runs commands in order from `state`.
fn given_from(mut state: Option<Call>, commands: Vec<Command>) -> Option<Call> {
    for command in commands {
        for event in handle(state.as_ref(), command).expect("given commands succeed") {
            state = Some(apply(state, &event));
        }
    }
    state
}

fn when(state: &Option<Call>, command: Command) -> Result<Vec<CallEvent>, DomainError> {
    handle(state.as_ref(), command)
}

fn end(at: i64) -> Command {
    Command::End {
        reason: "hung up".into(),
        at: t(at),
    }
}

#[test]
fn an_answered_call_ends_with_its_talk_time() {
    let id = Uuid::new_v4();
    let call = given(vec![
        initiate(id),
        Command::MarkRinging { at: t(1) },
        Command::MarkAnswered { at: t(5) },
    ]);
    assert_eq!(call.as_ref().unwrap().status, CallStatus::Answered);
    let events = when(&call, end(185)).unwrap();
    let [CallEvent::Ended(ended)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(ended.duration, 180);
    let call = apply(call, &events[0]);
    assert_eq!(
        (call.status, call.duration_seconds, call.ended_at),
        (CallStatus::Ended, 180, Some(t(185)))
    );
}

#[test]
fn hanging_up_before_an_answer_cancels() {
    let call = given(vec![
        initiate(Uuid::new_v4()),
        Command::MarkRinging { at: t(1) },
    ]);
    let events = when(&call, end(3)).unwrap();
    assert!(matches!(events.as_slice(), [CallEvent::Canceled(_)]));
    assert_eq!(apply(call, &events[0]).status, CallStatus::Canceled);
}

#[test]
fn the_provider_reports_no_answer_busy_or_failure() {
    for outcome in [CallStatus::NoAnswer, CallStatus::Busy, CallStatus::Failed] {
        let call = given(vec![initiate(Uuid::new_v4())]);
        let events = when(
            &call,
            Command::MarkFailed {
                outcome,
                reason: "carrier".into(),
                at: t(30),
            },
        )
        .unwrap();
        let call = apply(call, &events[0]);
        assert_eq!(call.status, outcome);
        assert!(call.status.is_final());
    }
}

#[test]
fn illegal_transitions_are_rejected() {
    let ended = given(vec![
        initiate(Uuid::new_v4()),
        Command::MarkAnswered { at: t(1) },
        end(2),
    ]);
    assert_eq!(
        when(&ended, end(3)).unwrap_err(),
        DomainError::IllegalTransition {
            action: "end",
            status: "ended"
        }
    );
    assert_eq!(
        when(&ended, Command::MarkRinging { at: t(3) })
            .unwrap_err()
            .to_string(),
        "cannot ring a call that is ended"
    );
    let answered = given(vec![
        initiate(Uuid::new_v4()),
        Command::MarkAnswered { at: t(1) },
    ]);
    assert!(when(&answered, Command::MarkRinging { at: t(2) }).is_err());
    assert!(when(&answered, Command::MarkAnswered { at: t(2) }).is_err());
    let failed = Command::MarkFailed {
        outcome: CallStatus::Busy,
        reason: String::new(),
        at: t(2),
    };
    assert!(when(&answered, failed).is_err());
    let canceled = given(vec![initiate(Uuid::new_v4()), end(1)]);
    assert!(when(&canceled, Command::MarkAnswered { at: t(2) }).is_err());
    let not_an_outcome = Command::MarkFailed {
        outcome: CallStatus::Ended,
        reason: String::new(),
        at: t(2),
    };
    assert!(matches!(
        when(&given(vec![initiate(Uuid::new_v4())]), not_an_outcome),
        Err(DomainError::Invalid { .. })
    ));
}

#[test]
fn a_call_exists_once_and_must_exist_to_change() {
    let id = Uuid::new_v4();
    let call = given(vec![initiate(id)]);
    assert_eq!(
        when(&call, initiate(id)).unwrap_err(),
        DomainError::AlreadyExists
    );
    assert_eq!(when(&None, end(1)).unwrap_err(), DomainError::NotFound);
}

#[test]
fn updates_change_only_what_they_name_even_after_the_call() {
    let call = given(vec![initiate(Uuid::new_v4()), end(1)]);
    let update = Command::Update {
        notes: Some("callback Tuesday".into()),
        disposition: None,
        tags: Some(vec![" vip ".into()]),
        at: t(60),
    };
    let call = apply(call.clone(), &when(&call, update).unwrap()[0]);
    assert_eq!(
        (call.notes.as_str(), call.tags.clone()),
        ("callback Tuesday", vec!["vip".to_string()])
    );
    let update = Command::Update {
        notes: None,
        disposition: Some("sale".into()),
        tags: None,
        at: t(61),
    };
    let call = apply(Some(call.clone()), &handle(Some(&call), update).unwrap()[0]);
    assert_eq!(
        (call.notes.as_str(), call.disposition.as_str()),
        ("callback Tuesday", "sale")
    );
}

#[test]
fn updates_are_validated_field_by_field() {
    let call = given(vec![initiate(Uuid::new_v4())]);
    let empty = Command::Update {
        notes: None,
        disposition: None,
        tags: None,
        at: t(1),
    };
    assert!(matches!(
        when(&call, empty),
        Err(DomainError::Invalid { field: "notes", .. })
    ));
    let long = Command::Update {
        notes: None,
        disposition: Some("x".repeat(101)),
        tags: None,
        at: t(1),
    };
    assert!(matches!(
        when(&call, long),
        Err(DomainError::Invalid {
            field: "disposition",
            ..
        })
    ));
    let blank_tag = Command::Update {
        notes: None,
        disposition: None,
        tags: Some(vec!["  ".into()]),
        at: t(1),
    };
    assert!(matches!(
        when(&call, blank_tag),
        Err(DomainError::Invalid { field: "tags", .. })
    ));
}

#[test]
fn free_text_refuses_nul_and_control_characters_but_keeps_line_breaks() {
    let call = given(vec![initiate(Uuid::new_v4())]);
    let nul = Command::Update {
        notes: Some("a\u{0}b".into()),
        disposition: None,
        tags: None,
        at: t(1),
    };
    let Err(DomainError::Invalid { field, reason }) = when(&call, nul) else {
        panic!("NUL accepted")
    };
    assert_eq!(
        (field, reason.as_str()),
        ("notes", "control character U+0000 is not allowed")
    );
    let bell = Command::Update {
        notes: None,
        disposition: None,
        tags: Some(vec!["x\u{7}".into()]),
        at: t(1),
    };
    assert!(matches!(
        when(&call, bell),
        Err(DomainError::Invalid { field: "tags", .. })
    ));
    let multiline = Command::Update {
        notes: Some("line one\nline two\ttabbed".into()),
        disposition: None,
        tags: None,
        at: t(1),
    };
    assert!(when(&call, multiline).is_ok());
}

#[test]
fn events_round_trip_through_their_stored_form() {
    let id = Uuid::new_v4();
    let mut state = None;
    let mut stored = Vec::new();
    for command in [initiate(id), Command::MarkAnswered { at: t(2) }, end(10)] {
        for event in handle(state.as_ref(), command).unwrap() {
            stored.push((event.event_type(), event.version(), event.to_data()));
            state = Some(apply(state, &event));
        }
    }
    let decoded: Vec<CallEvent> = stored
        .iter()
        .map(|(ty, version, data)| CallEvent::decode(ty, *version, data).unwrap())
        .collect();
    assert_eq!(fold(&decoded), state);
    assert_eq!(stored[2].2["duration"], 8);
    assert!(CallEvent::decode("comms.call.exploded", 1, &stored[0].2).is_err());
    let unknown_version = CallEvent::decode(stored[0].0, 2, &stored[0].2).unwrap_err();
    assert!(
        unknown_version.reason.contains("version 2 is not known"),
        "{unknown_version}"
    );
    let mut malformed = stored[2].2.clone();
    malformed["duration"] = "eight".into();
    let error = CallEvent::decode(stored[2].0, 1, &malformed).unwrap_err();
    assert!(error.reason.starts_with("data.duration:"), "{error}");
}

#[test]
fn routing_records_the_agent_once() {
    let agent = Uuid::from_u128(42);
    let call = given(vec![initiate(Uuid::from_u128(1))]);
    let assign = |id| Command::AssignAgent {
        agent_id: id,
        at: t(5),
    };
    let events = when(&call, assign(agent)).unwrap();
    assert_eq!(events[0].event_type(), "comms.call.agent_assigned");
    let call = Some(apply(call, &events[0]));
    assert_eq!(call.as_ref().unwrap().agent_id, Some(agent));
    assert!(
        when(&call, assign(agent)).unwrap().is_empty(),
        "again: nothing"
    );
    assert!(matches!(
        when(&call, assign(Uuid::from_u128(7))),
        Err(DomainError::Invalid {
            field: "agent_id",
            ..
        })
    ));
}

#[test]
fn a_campaign_calls_outcomes_name_its_campaign() {
    let campaign = Uuid::new_v4();
    let in_campaign = |call_id| Command::Initiate {
        call_id,
        to: PhoneNumber::parse("+14155550100").unwrap(),
        from: None,
        agent_id: None,
        campaign_id: Some(campaign),
        language: Language::En,
        detect_machines: false,
        recording: RecordingPolicy::Never,
        announcement: None,
        at: t(0),
    };
    let ringing = given(vec![
        in_campaign(Uuid::new_v4()),
        Command::MarkRinging { at: t(1) },
    ]);
    let answered = given(vec![
        in_campaign(Uuid::new_v4()),
        Command::MarkAnswered { at: t(1) },
    ]);
    let failed = Command::MarkFailed {
        outcome: CallStatus::Busy,
        reason: "busy".into(),
        at: t(2),
    };
    let outcomes = [
        when(&ringing, Command::MarkAnswered { at: t(2) }),
        when(&ringing, failed),
        when(&ringing, end(2)),
        when(&answered, end(9)),
    ];
    for events in outcomes {
        let data = events.unwrap()[0].to_data();
        assert_eq!(data["campaign_id"], campaign.to_string(), "{data}");
    }
    // Outside a campaign the field is absent, as before.
    let plain = given(vec![initiate(Uuid::new_v4())]);
    let data = when(&plain, end(1)).unwrap()[0].to_data();
    assert!(data.get("campaign_id").is_none(), "{data}");
}

#[test]
fn carriers_reports_repeat_and_cross_without_moving_a_call_back() {
    let id = Uuid::new_v4();
    let leg = CarrierLeg {
        carrier: Carrier::Twilio,
        id: "CA1".into(),
    };
    let report = |progress, at| Command::Report {
        leg: Some(leg.clone()),
        failed_over_from: None,
        progress,
        at: t(at),
    };
    let placed = given(vec![initiate(id), report(None, 1)]);
    assert_eq!(placed.as_ref().unwrap().carrier, Some(leg.clone()));
    assert_eq!(when(&placed, report(None, 2)).unwrap(), vec![]);
    let answered = given(vec![initiate(id), report(Some(Progress::Answered), 1)]);
    assert_eq!(answered.as_ref().unwrap().status, CallStatus::Answered);
    assert_eq!(
        when(&answered, report(Some(Progress::Ringing), 2)).unwrap(),
        vec![]
    );
    assert_eq!(
        when(&answered, report(Some(Progress::Answered), 2)).unwrap(),
        vec![]
    );
    let other = Command::Report {
        leg: Some(CarrierLeg {
            carrier: Carrier::Twilio,
            id: "CA2".into(),
        }),
        failed_over_from: None,
        progress: Some(Progress::HungUp),
        at: t(3),
    };
    assert!(matches!(
        when(&answered, other),
        Err(DomainError::Invalid {
            field: "carrier_call_id",
            ..
        })
    ));
    // A hang-up whose answer was never heard: answered, then ended.
    let events = when(&placed, report(Some(Progress::HungUp), 9)).unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, [Answered::TYPE, Ended::TYPE]);
}

#[test]
fn a_machine_verdict_comes_once_and_implies_an_answer() {
    let id = Uuid::new_v4();
    let detecting = Command::Initiate {
        call_id: id,
        to: PhoneNumber::parse("+14155550100").unwrap(),
        from: None,
        agent_id: None,
        campaign_id: Some(Uuid::new_v4()),
        language: Language::En,
        detect_machines: true,
        recording: RecordingPolicy::Never,
        announcement: None,
        at: t(0),
    };
    let report = |progress| Command::Report {
        leg: None,
        failed_over_from: None,
        progress: Some(progress),
        at: t(4),
    };
    let started = given(vec![detecting]);
    let events = when(&started, report(Progress::Answered)).unwrap();
    let CallEvent::Answered(answered) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(answered.awaiting_machine_detection);
    // The verdict before the answer's callback: both.
    let events = when(
        &started,
        report(detection(MachineVerdict::MachineEndBeep, false)),
    )
    .unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, [Answered::TYPE, MachineDetected::TYPE]);
    let heard = events
        .iter()
        .fold(started, |state, event| Some(apply(state, event)));
    assert_eq!(
        heard.as_ref().unwrap().answered_by,
        Some(MachineVerdict::MachineEndBeep)
    );
    assert_eq!(
        when(&heard, report(detection(MachineVerdict::Human, false))).unwrap(),
        vec![]
    );
}

fn detection(verdict: MachineVerdict, greeting_end_expected: bool) -> Progress {
    Progress::MachineDetected {
        verdict,
        greeting_end_expected,
    }
}

#[test]
fn a_machine_whose_beep_the_carrier_listens_for_is_heard_again_at_the_beep_and_only_then() {
    let report = |progress| Command::Report {
        leg: None,
        failed_over_from: None,
        progress: Some(progress),
        at: t(4),
    };
    let answered = given(vec![initiate(Uuid::new_v4()), report(Progress::Answered)]);
    let machine = when(
        &answered,
        report(detection(MachineVerdict::MachineStart, true)),
    )
    .unwrap();
    let CallEvent::MachineDetected(first) = &machine[0] else {
        panic!("{machine:?}")
    };
    assert!(first.greeting_end_expected);
    let machine = Some(apply(answered, &machine[0]));
    // A repeat, or a person after a machine, changes nothing; the beep refines the verdict.
    for same in [MachineVerdict::MachineStart, MachineVerdict::Human] {
        assert_eq!(
            when(&machine, report(detection(same, true))).unwrap(),
            vec![]
        );
    }
    let beep = when(
        &machine,
        report(detection(MachineVerdict::MachineEndBeep, false)),
    )
    .unwrap();
    let CallEvent::MachineDetected(end) = &beep[0] else {
        panic!("{beep:?}")
    };
    assert_eq!(end.verdict, MachineVerdict::MachineEndBeep);
    assert!(!end.greeting_end_expected);
    let over = Some(apply(machine, &beep[0]));
    assert_eq!(
        over.as_ref().unwrap().answered_by,
        Some(MachineVerdict::MachineEndBeep)
    );
    let late = report(detection(MachineVerdict::MachineEndOther, false));
    assert_eq!(when(&over, late).unwrap(), vec![]);
}

/// An answered call on a Twilio line, recorded as `policy` says.
fn answered_on_the_line(policy: RecordingPolicy) -> Option<Call> {
    given(vec![
        initiate_recorded(Uuid::new_v4(), policy),
        Command::Report {
            leg: Some(twilio_leg("CA01")),
            failed_over_from: None,
            progress: Some(Progress::Answered),
            at: t(3),
        },
    ])
}

fn twilio_leg(id: &str) -> CarrierLeg {
    CarrierLeg {
        carrier: Carrier::Twilio,
        id: id.into(),
    }
}

fn control(action: RecordingAction) -> Command {
    Command::ControlRecording { action, at: t(9) }
}

#[test]
fn a_recording_on_demand_starts_pauses_resumes_and_stops_once() {
    let mut call = answered_on_the_line(RecordingPolicy::OnDemand);
    // Nothing to pause before it began.
    assert!(matches!(
        when(&call, control(RecordingAction::Pause)),
        Err(DomainError::IllegalRecording { .. })
    ));
    for (action, state) in [
        (RecordingAction::Start, RecordingState::Recording),
        (RecordingAction::Pause, RecordingState::Paused),
        (RecordingAction::Resume, RecordingState::Recording),
        (RecordingAction::Pause, RecordingState::Paused),
        (RecordingAction::Stop, RecordingState::Stopped),
    ] {
        let events = when(&call, control(action)).unwrap();
        let [CallEvent::RecordingChanged(changed)] = events.as_slice() else {
            panic!("{action:?}: {events:?}")
        };
        assert_eq!(changed.state, state);
        call = Some(apply(call, &events[0]));
        // Asked again: nothing more.
        assert_eq!(when(&call, control(action)).unwrap(), vec![]);
    }
    // A call has one recording.
    for action in [RecordingAction::Start, RecordingAction::Resume] {
        let refused = when(&call, control(action)).unwrap_err();
        assert!(refused.to_string().contains("stopped"), "{refused}");
    }
}

#[test]
fn the_policy_decides_who_may_start_a_recording() {
    let never = answered_on_the_line(RecordingPolicy::Never);
    let refused = when(&never, control(RecordingAction::Start)).unwrap_err();
    assert!(refused.to_string().contains("never"), "{refused}");
    // Always: the carrier records from the answer and says when it began.
    let always = answered_on_the_line(RecordingPolicy::Always);
    assert!(when(&always, control(RecordingAction::Start)).is_err());
    let began = Command::RecordingBegan {
        leg: twilio_leg("CA01"),
        at: t(4),
    };
    let events = when(&always, began).unwrap();
    let recording = Some(apply(always, &events[0]));
    assert_eq!(
        recording.as_ref().unwrap().recording_state,
        Some(RecordingState::Recording)
    );
    // A repeat, and a report of another line, change nothing or are refused.
    let again = Command::RecordingBegan {
        leg: twilio_leg("CA01"),
        at: t(5),
    };
    assert_eq!(when(&recording, again).unwrap(), vec![]);
    let stray = Command::RecordingBegan {
        leg: twilio_leg("CA02"),
        at: t(5),
    };
    assert!(when(&recording, stray).is_err());
    assert_eq!(
        when(&recording, control(RecordingAction::Pause))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_deleted_recording_stays_deleted() {
    let call = answered_on_the_line(RecordingPolicy::Always);
    assert!(when(&call, Command::DeleteRecording { at: t(20) }).is_err());
    let ready = || Command::RecordingReady {
        callback: None,
        leg: twilio_leg("CA01"),
        recording_id: "RE01".into(),
        duration_seconds: 12,
        at: t(20),
    };
    let recorded = given_from(call, vec![ready()]);
    assert_eq!(
        recorded.as_ref().unwrap().recording_state,
        Some(RecordingState::Stopped)
    );
    let events = when(&recorded, Command::DeleteRecording { at: t(30) }).unwrap();
    let [CallEvent::RecordingDeleted(deleted)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(deleted.recording_id, "RE01");
    let deleted = Some(apply(recorded, &events[0]));
    assert_eq!(deleted.as_ref().unwrap().recording, None);
    // The carrier's late repeat of its callback does not bring it back.
    assert_eq!(when(&deleted, ready()).unwrap(), vec![]);
    assert!(when(&deleted, Command::DeleteRecording { at: t(31) }).is_err());
}

fn received(id: Uuid, skills: &[&str]) -> Command {
    Command::Receive {
        call_id: id,
        to: PhoneNumber::parse("+14155550100").unwrap(),
        from: PhoneNumber::parse("+14155550199").ok(),
        language: Language::En,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        leg: twilio_leg("CA00000000000000000000000000000001"),
        recording: RecordingPolicy::Never,
        ivr_flow: None,
        at: t(0),
    }
}

fn reroute(skills: &[&str], language: Language, reason: &str) -> Command {
    Command::Reroute {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        language,
        reason: reason.into(),
        by: "lead".into(),
        at: t(30),
    }
}

#[test]
fn a_waiting_call_is_rerouted_once_to_another_queue_in_its_language() {
    let id = Uuid::new_v4();
    let waiting = given(vec![received(id, &["billing", "vip"])]);
    // The queue it is in, in any order: nothing to record.
    assert_eq!(
        when(
            &waiting,
            reroute(&["vip", "billing", "vip"], Language::En, "same")
        ),
        Ok(vec![])
    );
    let events = when(
        &waiting,
        reroute(&["support", "billing"], Language::Es, "wrong_language"),
    )
    .unwrap();
    let [CallEvent::Rerouted(rerouted)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(rerouted.skills, ["billing", "support"]);
    assert_eq!(
        (rerouted.language, rerouted.rerouted_by.as_str()),
        (Language::Es, "lead")
    );
    // The call speaks Spanish from now; asked again, nothing more is recorded.
    let rerouted = given_from(
        waiting,
        vec![reroute(&["support", "billing"], Language::Es, "x")],
    );
    assert_eq!(rerouted.as_ref().unwrap().language, Language::Es);
    assert_eq!(
        when(
            &rerouted,
            reroute(&["billing", "support"], Language::Es, "again")
        ),
        Ok(vec![])
    );
}

#[test]
fn only_a_waiting_call_is_rerouted_and_only_to_a_valid_queue() {
    let id = Uuid::new_v4();
    let waiting = given(vec![received(id, &["billing"])]);
    let invalid = |command| match when(&waiting, command) {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        invalid(reroute(&["Billing Desk"], Language::En, "r")),
        "skills"
    );
    let many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(invalid(reroute(&many, Language::En, "r")), "skills");
    assert_eq!(invalid(reroute(&["support"], Language::En, "")), "reason");
    assert_eq!(
        invalid(reroute(&["support"], Language::En, "Too Bad")),
        "reason"
    );

    let not_waiting =
        |state: &Option<Call>| match when(state, reroute(&["support"], Language::En, "r")) {
            Err(DomainError::NotWaiting(why)) => why,
            other => panic!("{other:?}"),
        };
    // With its agent, over, or an outbound call nobody queued.
    let agent = Uuid::new_v4();
    let taken = given_from(
        waiting.clone(),
        vec![Command::AssignAgent {
            agent_id: agent,
            at: t(5),
        }],
    );
    assert!(not_waiting(&taken).contains(&agent.to_string()));
    let over = given_from(waiting, vec![end(9)]);
    assert!(not_waiting(&over).contains("ended"));
    let outbound = given(vec![initiate(id), Command::MarkAnswered { at: t(1) }]);
    assert!(not_waiting(&outbound).contains("never queued"));
    assert!(not_waiting(&given(vec![initiate(id)])).contains("initiated"));
    assert_eq!(
        when(&None, reroute(&["support"], Language::En, "r")),
        Err(DomainError::NotFound)
    );
}

fn monitor(supervisor: &str, mode: MonitorMode, at: i64) -> Command {
    Command::Monitor {
        supervisor: supervisor.into(),
        mode,
        audio: false,
        leg: None,
        at: t(at),
    }
}

#[test]
fn a_supervisor_joins_only_a_call_connected_to_its_agent_and_leaves_with_it() {
    let id = Uuid::new_v4();
    let answered = given(vec![initiate(id), Command::MarkAnswered { at: t(1) }]);
    // Waiting for an agent, or not answered yet: nobody to listen to.
    let refused = when(&answered, monitor("sam", MonitorMode::Listen, 2)).unwrap_err();
    assert!(matches!(refused, DomainError::NotConnected(_)), "{refused}");
    let ringing = given(vec![initiate(id)]);
    let refused = when(&ringing, monitor("sam", MonitorMode::Barge, 2)).unwrap_err();
    assert!(
        matches!(refused, DomainError::IllegalTransition { .. }),
        "{refused}"
    );
    // Leaving a call one is not on changes nothing.
    assert_eq!(
        when(&answered, monitor("sam", MonitorMode::Stopped, 2)),
        Ok(vec![])
    );

    let agent = Uuid::new_v4();
    let connected = given_from(
        answered,
        vec![Command::AssignAgent {
            agent_id: agent,
            at: t(2),
        }],
    );
    let listening = given_from(
        connected,
        vec![
            monitor("sam", MonitorMode::Listen, 3),
            monitor("kim", MonitorMode::Barge, 4),
        ],
    );
    let call = listening.clone().unwrap();
    assert_eq!(call.monitors.get("sam"), Some(&MonitorMode::Listen));
    assert_eq!(call.monitors.get("kim"), Some(&MonitorMode::Barge));
    // The same mode again changes nothing; another is recorded.
    assert_eq!(
        when(&listening, monitor("sam", MonitorMode::Listen, 5)),
        Ok(vec![])
    );
    let events = when(&listening, monitor("sam", MonitorMode::Whisper, 5)).unwrap();
    let [CallEvent::MonitoringChanged(changed)] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(
        (changed.supervisor_id.as_str(), changed.mode),
        ("sam", MonitorMode::Whisper)
    );
    assert_eq!(events[0].event_type(), MonitoringChanged::TYPE);
    // One leaves; the call's end takes the other off it.
    let left = given_from(listening, vec![monitor("kim", MonitorMode::Stopped, 6)]);
    assert!(!left.as_ref().unwrap().monitors.contains_key("kim"));
    let over = given_from(left, vec![end(7)]).unwrap();
    assert!(over.monitors.is_empty());
}

#[test]
fn a_carriers_legs_for_the_agent_and_supervisors_are_kept_while_they_are_on_the_call() {
    let id = Uuid::new_v4();
    let answered = given(vec![initiate(id), Command::MarkAnswered { at: t(1) }]);
    let leg_answered = |leg: &str, at| Command::AgentLegAnswered {
        leg: leg.into(),
        at: t(at),
    };
    // Waiting for an agent: no leg of theirs to keep.
    assert_eq!(when(&answered, leg_answered("agent-leg", 2)), Ok(vec![]));
    let agent = Uuid::new_v4();
    let connected = given_from(
        answered,
        vec![
            Command::AssignAgent {
                agent_id: agent,
                at: t(2),
            },
            leg_answered("agent-leg", 3),
        ],
    );
    assert_eq!(
        connected.as_ref().unwrap().agent_leg.as_deref(),
        Some("agent-leg")
    );
    // The carrier's repeat changes nothing.
    assert_eq!(when(&connected, leg_answered("agent-leg", 4)), Ok(vec![]));

    let on_a_leg = |supervisor: &str, mode, leg: Option<&str>, at| Command::Monitor {
        supervisor: supervisor.into(),
        mode,
        audio: true,
        leg: leg.map(str::to_owned),
        at: t(at),
    };
    let events = when(
        &connected,
        on_a_leg("sam", MonitorMode::Listen, Some("sam-leg"), 5),
    )
    .unwrap();
    let [CallEvent::MonitoringChanged(changed)] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(changed.carrier_call_id.as_deref(), Some("sam-leg"));
    let monitored = given_from(
        connected,
        vec![
            on_a_leg("sam", MonitorMode::Listen, Some("sam-leg"), 5),
            on_a_leg("kim", MonitorMode::Barge, Some("kim-leg"), 6),
        ],
    );
    let legs = |state: &Option<Call>| state.as_ref().unwrap().monitor_legs.clone();
    assert_eq!(
        legs(&monitored).get("sam").map(String::as_str),
        Some("sam-leg")
    );

    // A leg that is nobody's ending changes nothing; Sam's ending takes him off the call.
    let ended = |leg: &str, at| Command::LegEnded {
        leg: leg.into(),
        at: t(at),
    };
    assert_eq!(when(&monitored, ended("agent-leg", 7)), Ok(vec![]));
    let events = when(&monitored, ended("sam-leg", 7)).unwrap();
    let [CallEvent::MonitoringChanged(left)] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(
        (left.supervisor_id.as_str(), left.mode, left.audio),
        ("sam", MonitorMode::Stopped, true)
    );
    assert_eq!(left.carrier_call_id, None);
    let sam_gone = given_from(monitored, vec![ended("sam-leg", 7)]);
    assert!(!sam_gone.as_ref().unwrap().monitors.contains_key("sam"));
    assert!(!legs(&sam_gone).contains_key("sam"));
    // Leaving by request forgets the leg too; the call's end forgets every one.
    let kim_left = given_from(
        sam_gone.clone(),
        vec![on_a_leg("kim", MonitorMode::Stopped, None, 8)],
    );
    assert!(legs(&kim_left).is_empty());
    let over = given_from(sam_gone, vec![end(9)]);
    assert!(legs(&over).is_empty());
    assert_eq!(when(&over, leg_answered("agent-leg-2", 10)), Ok(vec![]));
}
