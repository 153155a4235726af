//! Given the events so far, when a command arrives, then these events (or this refusal).

use chrono::{DateTime, TimeZone, Utc};
use comms_proto::Language;
use uuid::Uuid;

use super::*;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn profile() -> Profile {
    Profile {
        name: "Ada".into(),
        email: "ada@example.com".into(),
        phone: "+14155550100".into(),
        extension: "101".into(),
        languages: vec![Language::En, Language::Es],
        skills: vec![Skill {
            name: "billing".into(),
            proficiency: 4,
        }],
    }
}

/// Runs `commands` from nothing, failing on any refusal; returns the agent.
fn given(commands: Vec<Command>) -> Agent {
    let mut state = None;
    for command in commands {
        let events = handle(state.as_ref(), command).expect("the history is legal");
        for event in &events {
            state = Some(apply(state, event));
        }
    }
    state.expect("created")
}

fn created() -> Command {
    Command::Create {
        agent_id: Uuid::nil(),
        profile: profile(),
        team_id: None,
        at: t(0),
    }
}

fn status(status: AgentState, reason: Option<&str>, at: i64) -> Command {
    Command::SetStatus {
        status,
        reason: reason.map(str::to_owned),
        at: t(at),
    }
}

fn call() -> Uuid {
    Uuid::from_u128(7)
}

fn reserve(at: i64) -> Command {
    Command::Reserve {
        call_id: call(),
        until: t(at + 15),
        at: t(at),
    }
}

fn accept(at: i64) -> Command {
    Command::Accept {
        call_id: call(),
        at: t(at),
    }
}

fn release(at: i64) -> Command {
    Command::Release {
        call_id: call(),
        wrap_up_until: t(at + 30),
        at: t(at),
    }
}

fn when(agent: &Agent, command: Command) -> Result<Vec<&'static str>, DomainError> {
    handle(Some(agent), command).map(|events| events.iter().map(AgentEvent::event_type).collect())
}

fn then(agent: Agent, command: Command) -> Agent {
    handle(Some(&agent), command)
        .unwrap()
        .iter()
        .fold(agent, |agent, event| apply(Some(agent), event))
}

#[test]
fn a_new_agent_is_offline_and_goes_available() {
    let agent = given(vec![created()]);
    assert_eq!(agent.state, AgentState::Offline);
    assert_eq!(
        when(&agent, status(AgentState::Available, None, 1)).unwrap(),
        ["comms.agent.available"]
    );
    assert!(matches!(
        handle(Some(&agent), created()),
        Err(DomainError::AlreadyExists { .. })
    ));
}

#[test]
fn a_call_reserves_then_busies_then_wraps_up_then_frees_the_agent() {
    let agent = given(vec![created(), status(AgentState::Available, None, 1)]);
    let agent = then(agent, reserve(10));
    assert_eq!(
        (agent.state, agent.call_id, agent.deadline),
        (AgentState::Reserved, Some(call()), Some(t(25)))
    );
    let agent = then(agent, accept(12));
    assert_eq!(agent.state, AgentState::Busy);
    assert_eq!(when(&agent, release(100)).unwrap(), ["comms.agent.wrap_up"]);
    let agent = then(agent, release(100));
    assert_eq!(
        (agent.state, agent.deadline),
        (AgentState::WrapUp, Some(t(130)))
    );
    assert_eq!(
        when(&agent, release(101)).unwrap(),
        Vec::<&str>::new(),
        "a repeated release is a no-op"
    );
    let agent = then(agent, Command::EndWrapUp { at: t(130) });
    assert_eq!(
        (agent.state, agent.call_id, agent.state_since),
        (AgentState::Available, None, t(130))
    );
}

#[test]
fn the_rejected_transitions() {
    let offline = given(vec![created()]);
    let busy = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
    ]);
    // An offline agent cannot be reserved, go busy, or take a break.
    assert!(matches!(
        when(&offline, reserve(5)),
        Err(DomainError::IllegalTransition {
            action: "reserve",
            state: "offline"
        })
    ));
    assert!(matches!(
        when(&offline, accept(5)),
        Err(DomainError::IllegalTransition {
            state: "offline",
            ..
        })
    ));
    assert!(matches!(
        when(&offline, status(AgentState::Break, Some("lunch"), 5)),
        Err(DomainError::IllegalTransition { .. })
    ));
    // A busy agent cannot be reserved again.
    assert!(matches!(
        when(&busy, reserve(5)),
        Err(DomainError::IllegalTransition {
            action: "reserve",
            state: "busy"
        })
    ));
    // Routing states cannot be asked for; break needs a reason and offline takes none.
    assert!(matches!(
        when(&offline, status(AgentState::Busy, None, 5)),
        Err(DomainError::Invalid {
            field: "status",
            ..
        })
    ));
    let available = then(offline.clone(), status(AgentState::Available, None, 5));
    assert!(matches!(
        when(&available, status(AgentState::Break, None, 6)),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        when(
            &available,
            status(AgentState::Break, Some("Lunch Break"), 6)
        ),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        when(&available, status(AgentState::Offline, Some("x"), 6)),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    // Accepting or releasing another call is refused.
    let reserved = then(available, reserve(7));
    let other = Uuid::from_u128(8);
    assert!(matches!(
        when(
            &reserved,
            Command::Accept {
                call_id: other,
                at: t(8)
            }
        ),
        Err(DomainError::Invalid {
            field: "call_id",
            ..
        })
    ));
    assert!(matches!(
        when(
            &reserved,
            Command::Release {
                call_id: other,
                wrap_up_until: t(9),
                at: t(8)
            }
        ),
        Err(DomainError::Invalid {
            field: "call_id",
            ..
        })
    ));
    assert!(matches!(
        handle(None, reserve(1)),
        Err(DomainError::NotFound { .. })
    ));
}

#[test]
fn break_asked_for_during_a_call_follows_its_wrap_up() {
    let busy = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
    ]);
    assert_eq!(
        when(&busy, status(AgentState::Break, Some("lunch"), 4)).unwrap(),
        ["comms.agent.next_state_requested"]
    );
    let busy = then(busy, status(AgentState::Break, Some("lunch"), 4));
    assert_eq!(busy.state, AgentState::Busy, "still on the call");
    let wrapping = then(busy, release(60));
    assert_eq!(
        wrapping.next_state,
        Some((AgentState::Break, Some("lunch".into())))
    );
    assert_eq!(
        when(&wrapping, Command::EndWrapUp { at: t(90) }).unwrap(),
        ["comms.agent.break"]
    );
    let after = then(wrapping, Command::EndWrapUp { at: t(90) });
    assert_eq!(
        (after.state, after.reason.as_deref(), after.next_state),
        (AgentState::Break, Some("lunch"), None)
    );
}

#[test]
fn asking_for_available_during_a_call_withdraws_the_request() {
    let busy = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
        status(AgentState::Offline, None, 4),
    ]);
    assert_eq!(busy.next_state, Some((AgentState::Offline, None)));
    let busy = then(busy, status(AgentState::Available, None, 5));
    assert_eq!(busy.next_state, None);
    let after = then(then(busy, release(6)), Command::EndWrapUp { at: t(7) });
    assert_eq!(after.state, AgentState::Available);
}

#[test]
fn an_agent_may_end_wrap_up_early() {
    let wrapping = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
        release(4),
    ]);
    let after = then(wrapping, status(AgentState::Available, None, 5));
    assert_eq!(
        (after.state, after.state_since),
        (AgentState::Available, t(5))
    );
}

#[test]
fn an_unaccepted_reservation_lapses_only_after_its_deadline() {
    let reserved = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(10),
    ]);
    assert_eq!(
        when(&reserved, Command::LapseReservation { at: t(20) }).unwrap(),
        Vec::<&str>::new()
    );
    assert_eq!(
        when(&reserved, Command::LapseReservation { at: t(25) }).unwrap(),
        ["comms.agent.available"]
    );
    let after = then(reserved, Command::LapseReservation { at: t(25) });
    assert_eq!((after.state, after.call_id), (AgentState::Available, None));
}

#[test]
fn a_break_or_log_off_asked_for_while_reserved_is_kept_when_the_reservation_ends_unanswered() {
    let reserved = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(10),
    ]);
    // The reservation lapses: the agent goes on the break they asked for, not back to routing.
    let wants_break = then(
        reserved.clone(),
        status(AgentState::Break, Some("lunch"), 12),
    );
    assert_eq!(
        when(&wants_break, Command::LapseReservation { at: t(25) }).unwrap(),
        ["comms.agent.break"]
    );
    let after = then(wants_break, Command::LapseReservation { at: t(25) });
    assert_eq!(
        (after.state, after.reason.as_deref(), after.next_state),
        (AgentState::Break, Some("lunch"), None)
    );
    // The call ends before it is answered: the agent logs off as asked.
    let logging_off = then(reserved.clone(), status(AgentState::Offline, None, 12));
    assert_eq!(
        when(&logging_off, release(13)).unwrap(),
        ["comms.agent.offline"]
    );
    assert_eq!(then(logging_off, release(13)).state, AgentState::Offline);
    // Asking for available again withdrew the request: available, as ever.
    let changed_mind = then(
        then(reserved, status(AgentState::Away, Some("meeting"), 12)),
        status(AgentState::Available, None, 13),
    );
    assert_eq!(
        when(&changed_mind, release(14)).unwrap(),
        ["comms.agent.available"]
    );
}

#[test]
fn a_call_that_ends_before_it_is_accepted_frees_the_agent_without_wrap_up() {
    let reserved = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(10),
    ]);
    assert_eq!(
        when(&reserved, release(11)).unwrap(),
        ["comms.agent.available"]
    );
}

#[test]
fn breaks_away_and_offline_from_available() {
    let agent = given(vec![created(), status(AgentState::Available, None, 1)]);
    let on_break = then(agent, status(AgentState::Break, Some("lunch"), 2));
    assert_eq!(
        (on_break.state, on_break.reason.as_deref()),
        (AgentState::Break, Some("lunch"))
    );
    let away = then(on_break, status(AgentState::Away, Some("meeting"), 3));
    assert_eq!(away.state, AgentState::Away);
    let offline = then(away, status(AgentState::Offline, None, 4));
    assert_eq!(offline.state, AgentState::Offline);
    assert_eq!(
        when(&offline, status(AgentState::Offline, None, 5)).unwrap(),
        Vec::<&str>::new(),
        "idempotent"
    );
}

#[test]
fn profiles_are_checked_on_create_and_update() {
    let mut bad = profile();
    bad.skills = vec![Skill {
        name: "billing".into(),
        proficiency: 6,
    }];
    let create = Command::Create {
        agent_id: Uuid::nil(),
        profile: bad,
        team_id: None,
        at: t(0),
    };
    assert!(matches!(
        handle(None, create),
        Err(DomainError::Invalid {
            field: "skills",
            ..
        })
    ));
    let agent = given(vec![created()]);
    let change = ProfileChange {
        phone: Some("555-0100".into()),
        ..Default::default()
    };
    assert!(matches!(
        when(&agent, Command::UpdateProfile { change, at: t(1) }),
        Err(DomainError::Invalid { field: "phone", .. })
    ));
    let change = ProfileChange {
        skills: Some(vec![Skill {
            name: "sales".into(),
            proficiency: 5,
        }]),
        ..Default::default()
    };
    let updated = then(agent, Command::UpdateProfile { change, at: t(1) });
    assert_eq!(updated.profile.proficiency("sales"), Some(5));
    assert_eq!(updated.profile.proficiency("billing"), None);
}

#[test]
fn events_round_trip_through_their_stored_form() {
    let history = [
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
        status(AgentState::Break, Some("lunch"), 4),
        release(5),
        Command::EndWrapUp { at: t(6) },
    ];
    let mut state = None;
    for command in history {
        for event in handle(state.as_ref(), command).unwrap() {
            let stored =
                AgentEvent::decode(event.event_type(), event.version(), &event.to_data()).unwrap();
            assert_eq!(stored, event);
            state = Some(apply(state, &stored));
        }
    }
    assert_eq!(state.unwrap().state, AgentState::Break);
}

#[test]
fn an_agent_who_dials_out_is_busy_and_wraps_up_even_when_the_call_fails() {
    let agent = given(vec![created(), status(AgentState::Available, None, 1)]);
    let dial = || Command::Dial {
        call_id: call(),
        at: t(2),
    };
    assert_eq!(when(&agent, dial()).unwrap(), ["comms.agent.busy"]);
    let busy = then(agent, dial());
    assert_eq!(
        when(&busy, dial()).unwrap(),
        Vec::<&str>::new(),
        "a replayed dial changes nothing"
    );
    // No answer: the call fails, and the agent still gets wrap-up.
    assert_eq!(when(&busy, release(20)).unwrap(), ["comms.agent.wrap_up"]);
    let offline = given(vec![created()]);
    assert!(matches!(
        when(&offline, dial()),
        Err(DomainError::IllegalTransition {
            state: "offline",
            ..
        })
    ));
}

#[test]
fn leaving_wrap_up_names_the_call_wrapped_up() {
    let wrapping = given(vec![
        created(),
        status(AgentState::Available, None, 1),
        reserve(2),
        accept(3),
        release(4),
    ]);
    let call_of = |command| match handle(Some(&wrapping), command).unwrap().as_slice() {
        [AgentEvent::Available(e)] => e.call_id,
        [AgentEvent::Break(e)] => e.call_id,
        other => panic!("{other:?}"),
    };
    // Ended by the agent, or at its deadline into the state they asked for.
    assert_eq!(
        call_of(status(AgentState::Available, None, 5)),
        Some(call())
    );
    assert_eq!(call_of(Command::EndWrapUp { at: t(34) }), Some(call()));
    let asked_for_break = then(
        wrapping.clone(),
        status(AgentState::Break, Some("lunch"), 5),
    );
    let events = handle(Some(&asked_for_break), Command::EndWrapUp { at: t(34) }).unwrap();
    assert!(matches!(events.as_slice(), [AgentEvent::Break(e)] if e.call_id == Some(call())));
    // Entering a state from anything but a call names no call.
    let available = then(
        given(vec![created()]),
        status(AgentState::Available, None, 1),
    );
    let events = handle(
        Some(&available),
        status(AgentState::Break, Some("lunch"), 2),
    )
    .unwrap();
    assert!(matches!(events.as_slice(), [AgentEvent::Break(e)] if e.call_id.is_none()));
}

fn force(status: AgentState, reason: &str, at: i64) -> Command {
    Command::Force {
        status,
        reason: reason.into(),
        by: "supervisor_1".into(),
        at: t(at),
    }
}

#[test]
fn a_supervisor_forces_a_state_now_ends_a_wrap_up_and_waits_for_a_call_to_end() {
    use comms_events::agent::{Break, NextStateRequested, Offline};
    let available = given(vec![created(), status(AgentState::Available, None, 1)]);
    // At once, with the supervisor's reason and name on the event.
    let events = handle(
        Some(&available),
        force(AgentState::Offline, "left_for_the_day", 2),
    )
    .unwrap();
    let [AgentEvent::Offline(Offline(transition))] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(
        (
            transition.reason.as_deref(),
            transition.forced_by.as_deref()
        ),
        (Some("left_for_the_day"), Some("supervisor_1"))
    );
    // Already there: nothing.
    assert_eq!(
        when(&available, force(AgentState::Available, "back", 2)).unwrap(),
        Vec::<&str>::new()
    );
    // A reason is always required, and only the four states a person picks.
    for refused in [
        force(AgentState::Break, "", 2),
        force(AgentState::Break, "Lunch!", 2),
        force(AgentState::Busy, "on_a_call", 2),
    ] {
        assert!(matches!(
            handle(Some(&available), refused),
            Err(DomainError::Invalid { .. })
        ));
    }
    // On a call: when its wrap-up ends.
    let busy = then(available, reserve(3));
    let busy = then(busy, accept(4));
    assert_eq!(
        when(&busy, force(AgentState::Break, "coaching", 5)).unwrap(),
        [<NextStateRequested as comms_events::Event>::TYPE]
    );
    let busy = then(busy, force(AgentState::Break, "coaching", 5));
    assert_eq!(busy.state, AgentState::Busy, "still on the call");
    // In wrap-up: it ends now, naming the call.
    let wrapping = then(
        given(vec![
            created(),
            status(AgentState::Available, None, 1),
            reserve(2),
            accept(3),
        ]),
        release(10),
    );
    let events = handle(Some(&wrapping), force(AgentState::Break, "coaching", 11)).unwrap();
    let [AgentEvent::Break(Break(transition))] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(transition.call_id, Some(call()));
    assert_eq!(events[0].event_type(), <Break as comms_events::Event>::TYPE);
    // A logged-off agent logs themselves in.
    let offline = given(vec![created()]);
    assert!(matches!(
        handle(Some(&offline), force(AgentState::Available, "start", 1)),
        Err(DomainError::IllegalTransition { .. })
    ));
}
