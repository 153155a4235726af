use chrono::{DateTime, TimeZone, Utc};
use comms_events::ivr::{FlowDefinition, Node};
use comms_proto::Language;
use serde_json::json;

use super::validate::validate;
use super::walk::{self, Answer, Prompt, Then};

/// The flow docs/ivr.md describes: open hours in Madrid, a menu, a billing sub-menu.
pub fn support_flow() -> serde_json::Value {
    json!({
        "languages": ["en", "es"],
        "start": "hours",
        "nodes": {
            "hours": {"type": "business_hours", "zone": "Europe/Madrid",
                      "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}],
                      "holidays": ["2026-12-25"], "if_open": "welcome", "if_closed": "closed"},
            "welcome": {"type": "say", "text": {"en": "Welcome to Ocelot.", "es": "Bienvenido a Ocelot."},
                        "next": "main"},
            "main": {"type": "menu",
                     "text": {"en": "For billing press 1, for sales press 2.",
                              "es": "Para facturación pulse 1, para ventas pulse 2."},
                     "input": ["dtmf", "speech"],
                     "choices": [
                         {"digits": "1", "words": {"en": ["billing"], "es": ["facturación"]}, "next": "billing_menu"},
                         {"digits": "2", "words": {"en": ["sales"], "es": ["ventas"]}, "next": "sales"}],
                     "otherwise": "voicemail"},
            "billing_menu": {"type": "menu",
                             "text": {"en": "Invoices 1, payments 2.", "es": "Facturas 1, pagos 2."},
                             "choices": [{"digits": "1", "next": "invoices"}, {"digits": "2", "next": "billing"}],
                             "retries": 1, "otherwise": "billing"},
            "billing": {"type": "queue", "skills": ["billing"], "priority": 5},
            "sales": {"type": "queue", "skills": ["sales"]},
            "invoices": {"type": "transfer", "to": "+34910000000"},
            "voicemail": {"type": "voicemail", "max_seconds": 120,
                          "text": {"en": "Leave a message after the tone.", "es": "Deje un mensaje tras la señal."}},
            "closed": {"type": "hang_up", "text": {"en": "We are closed.", "es": "Estamos cerrados."}}
        }
    })
}

fn flow(value: serde_json::Value) -> FlowDefinition {
    serde_json::from_value(value).expect("a flow")
}

fn problems(value: serde_json::Value) -> Vec<(String, String)> {
    validate(&flow(value))
}

/// A Monday in December (UTC+1 in Madrid) at `hh:mm` local time.
fn madrid(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, hour - 1, minute, 0)
        .unwrap()
}

#[test]
fn the_support_flow_is_valid() {
    assert_eq!(problems(support_flow()), vec![]);
}

#[test]
fn each_flaw_is_refused_naming_its_node() {
    let mut unreachable = support_flow();
    unreachable["nodes"]["orphan"] = json!({"type": "hang_up"});
    let mut dead_end = support_flow();
    dead_end["nodes"]["welcome"]["next"] = json!("nowhere");
    let mut no_input_loop = support_flow();
    no_input_loop["nodes"]["welcome"]["next"] = json!("again");
    no_input_loop["nodes"]["again"] =
        json!({"type": "say", "text": {"en": "x", "es": "x"}, "next": "welcome"});
    let mut missing_text = support_flow();
    missing_text["nodes"]["welcome"]["text"]
        .as_object_mut()
        .unwrap()
        .remove("es");
    let cases = [
        (unreachable, "definition.nodes.orphan", "unreachable"),
        (dead_end, "definition.nodes.welcome.next", "names no node"),
        (
            no_input_loop,
            "definition.nodes.again",
            "never asks the caller",
        ),
        (
            missing_text,
            "definition.nodes.welcome.text",
            "no text in es",
        ),
    ];
    for (definition, field, reason) in cases {
        let problems = validate(&flow(definition));
        assert!(
            problems
                .iter()
                .any(|(f, r)| format!("definition.{f}") == field && r.contains(reason)),
            "{field}: {problems:?}"
        );
    }
}

#[test]
fn a_cycle_through_a_menu_with_no_way_out_is_a_dead_end() {
    let trapped = json!({
        "languages": ["en"], "start": "ask",
        "nodes": {
            "ask": {"type": "menu", "text": {"en": "Press 1."},
                    "choices": [{"digits": "1", "next": "again"}], "otherwise": "again"},
            "again": {"type": "say", "text": {"en": "Again."}, "next": "ask"}
        }
    });
    let problems = problems(trapped);
    assert!(
        problems
            .iter()
            .any(|(f, r)| f == "nodes.ask" && r.contains("dead end")),
        "{problems:?}"
    );
}

#[test]
fn digits_1_then_2_reach_the_billing_queue() {
    let flow = flow(support_flow());
    let first = walk::start(&flow, Language::En, madrid(10, 0));
    let nodes: Vec<&str> = first.steps.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(nodes, ["hours", "welcome", "main"]);
    assert_eq!(
        first.prompts,
        [Prompt::Say {
            language: Language::En,
            text: "Welcome to Ocelot.".into()
        }]
    );
    let Then::Ask(question) = &first.then else {
        panic!("{:?}", first.then)
    };
    assert_eq!(
        (question.node.as_str(), question.attempt, question.digits),
        ("main", 1, 1)
    );
    let second = walk::answer(
        &flow,
        Language::En,
        madrid(10, 0),
        "main",
        1,
        Answer::Digits("1".into()),
    )
    .unwrap();
    let third = walk::answer(
        &flow,
        Language::En,
        madrid(10, 0),
        "billing_menu",
        1,
        Answer::Digits("2".into()),
    )
    .unwrap();
    assert_eq!(second.steps[0].node, "billing_menu");
    assert_eq!(
        third.then,
        Then::Queue {
            skills: vec!["billing".into()],
            language: Language::En,
            priority: 5
        }
    );
}

#[test]
fn spoken_answers_choose_in_the_calls_language() {
    let flow = flow(support_flow());
    let said = Answer::Speech("Quiero hablar de Facturación, por favor".into());
    let turn = walk::answer(&flow, Language::Es, madrid(10, 0), "main", 1, said).unwrap();
    assert_eq!(turn.steps[0].node, "billing_menu");
}

#[test]
fn no_answer_asks_again_then_goes_on_otherwise() {
    let flow = flow(support_flow());
    let at = madrid(10, 0);
    let again = walk::answer(&flow, Language::En, at, "billing_menu", 1, Answer::Nothing).unwrap();
    let Then::Ask(question) = &again.then else {
        panic!("{:?}", again.then)
    };
    assert_eq!(
        (question.node.as_str(), question.attempt),
        ("billing_menu", 2)
    );
    let given_up = walk::answer(
        &flow,
        Language::En,
        at,
        "billing_menu",
        2,
        Answer::Digits("9".into()),
    )
    .unwrap();
    assert_eq!(given_up.steps[0].node, "billing");
}

#[test]
fn business_hours_turn_at_nine_in_the_flows_zone_also_on_a_dst_change() {
    let flow = flow(support_flow());
    let branch = |at: DateTime<Utc>| walk::start(&flow, Language::En, at).steps[1].node.clone();
    assert_eq!(branch(madrid(8, 59)), "closed");
    assert_eq!(branch(madrid(9, 1)), "welcome");
    // Monday 2026-03-30, the day after Madrid moved to UTC+2: 08:59 local is 06:59 UTC.
    let after_dst = |h, m| Utc.with_ymd_and_hms(2026, 3, 30, h, m, 0).unwrap();
    assert_eq!(branch(after_dst(6, 59)), "closed");
    assert_eq!(branch(after_dst(7, 1)), "welcome");
    // Sunday 2026-03-29 itself (the change at 02:00) is a weekend: closed all day.
    assert_eq!(
        branch(Utc.with_ymd_and_hms(2026, 3, 29, 9, 0, 0).unwrap()),
        "closed"
    );
    // A holiday is closed on a weekday.
    assert_eq!(
        branch(Utc.with_ymd_and_hms(2026, 12, 25, 10, 0, 0).unwrap()),
        "closed"
    );
}

#[test]
fn a_call_in_a_language_the_flow_lacks_hears_the_flows_first() {
    let flow = flow(support_flow());
    let turn = walk::start(&flow, Language::Ja, madrid(10, 0));
    assert_eq!(turn.language, Language::En);
    let Some(Node::Say(_)) = flow.nodes.get("welcome") else {
        unreachable!()
    };
}
