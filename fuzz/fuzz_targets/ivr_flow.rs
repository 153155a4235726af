//! Any bytes as an IVR flow definition (up to a NUL) and a caller's answers (the bytes after):
//! reading it never panics and names the field it cannot read; a definition that validates is
//! walked in every language with those answers, and the walk always stops, using no more
//! answers than it was given.
#![no_main]

use chrono::{TimeZone, Utc};
use comms_events::ivr::{FlowDefinition, Node};
use comms_proto::Language;
use libfuzzer_sys::fuzz_target;
use validate::validate;
use walk::{Answer, Then};

// The calls service's own checks and walk, compiled from their files: the instrumented build
// then needs the event contract, not the service and its servers.
#[allow(dead_code)]
#[path = "../../services/calls/src/ivr/validate.rs"]
mod validate;
#[allow(dead_code)]
#[path = "../../services/calls/src/ivr/walk.rs"]
mod walk;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (json, answers) = data.split_at(split);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let definition: FlowDefinition = match serde_json::from_value(value.clone()) {
        Ok(definition) => definition,
        Err(_) => {
            // What the API answers then: the node's own field, read again.
            if let Some(nodes) = value.get("nodes").and_then(|n| n.as_object()) {
                for node in nodes.values() {
                    let _ = Node::explain(node);
                }
            }
            return;
        }
    };
    if !validate(&definition).is_empty() {
        return;
    }
    let answers: Vec<Answer> = answers
        .iter()
        .take(50)
        .map(|b| match b % 4 {
            0 => Answer::Nothing,
            1 => Answer::Speech(format!("word {b}")),
            _ => Answer::Digits(((b % 10) as u32).to_string()),
        })
        .collect();
    let at = Utc.timestamp_opt(1_700_000_000 + i64::from(split as u32) * 3_600, 0).unwrap();
    for (language, _) in Language::ALL {
        let simulation = walk::simulate(&definition, language, at, &answers);
        assert!(simulation.inputs_used <= answers.len());
        if let Then::Ask(question) = &simulation.last.then {
            assert!(matches!(definition.nodes.get(&question.node), Some(Node::Menu(_))));
        }
    }
});
