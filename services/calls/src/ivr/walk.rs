//! Walking a (valid) flow: from a node, through the nodes that do not wait for the caller,
//! to the next question or the flow's end. Pure: the time and the caller's answers come in, the
//! nodes passed, the prompts to speak and what comes next go out. The carriers' webhooks, the
//! simulator and the tests all walk with it.

use chrono::{DateTime, Datelike, Utc};
use comms_events::ivr::{
    BusinessHours, Day, FlowDefinition, HangUp, InputKind, Menu, Node, Play, Queue, Say,
    SetLanguage, Transfer, Voicemail,
};
use comms_proto::{Language, PhoneNumber};

use super::validate::{parse_time, successors};

/// What the caller did at a menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Digits(String),
    Speech(String),
    /// Nothing before the timeout.
    Nothing,
}

/// A node the caller reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub node: String,
    pub kind: &'static str,
    /// A menu's: 1 when first asked, then each time it is asked again.
    pub attempt: Option<u32>,
    /// The answer that led here.
    pub answer: Option<Answer>,
    /// The language the call speaks from here.
    pub language: Language,
}

/// Something the caller hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    Say { language: Language, text: String },
    Play { url: String },
}

/// A menu waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub node: String,
    pub attempt: u32,
    pub prompt: Prompt,
    pub dtmf: bool,
    pub speech: bool,
    pub timeout_seconds: u32,
    /// How many keys an answer is (0: the menu takes speech only).
    pub digits: u32,
    /// The words the menu listens for, in the call's language.
    pub hints: Vec<String>,
}

/// Where a walk stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    Ask(Question),
    Queue {
        skills: Vec<String>,
        language: Language,
        priority: i32,
    },
    Voicemail {
        max_seconds: u32,
    },
    Transfer {
        to: PhoneNumber,
    },
    HangUp,
}

/// One walk: the nodes reached, what was spoken on the way, where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub steps: Vec<Step>,
    pub prompts: Vec<Prompt>,
    pub then: Then,
    pub language: Language,
}

/// Why an answer cannot be walked from where it says it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a menu of the flow")]
pub struct NotAMenu(pub String);

/// The flow's start, for a call in `language` (the flow's first language if it does not
/// speak that one), at `now`.
pub fn start(flow: &FlowDefinition, language: Language, now: DateTime<Utc>) -> Turn {
    let language = if flow.languages.contains(&language) {
        language
    } else {
        flow.languages[0]
    };
    let mut walk = Walk::new(flow, language, now);
    walk.enter(&flow.start, None, 1);
    walk.finish()
}

/// The caller's `answer` to the menu `node`, asked for the `attempt`th time.
pub fn answer(
    flow: &FlowDefinition,
    language: Language,
    now: DateTime<Utc>,
    node: &str,
    attempt: u32,
    answer: Answer,
) -> Result<Turn, NotAMenu> {
    let Some(Node::Menu(menu)) = flow.nodes.get(node) else {
        return Err(NotAMenu(node.to_owned()));
    };
    let mut walk = Walk::new(flow, language, now);
    match chosen(menu, language, &answer) {
        Some(next) => walk.enter(next, Some(answer), 1),
        None if attempt <= menu.retries => walk.enter(node, Some(answer), attempt + 1),
        None => walk.enter(&menu.otherwise, Some(answer), 1),
    }
    Ok(walk.finish())
}

/// Where a call already stands (`node`, asked the `attempt`th time if a menu), said again:
/// for a carrier that asks twice. Nothing is walked.
pub fn resume(
    flow: &FlowDefinition,
    language: Language,
    now: DateTime<Utc>,
    node: &str,
    attempt: u32,
) -> Turn {
    let mut walk = Walk::new(flow, language, now);
    walk.enter(node, None, attempt);
    Turn {
        steps: Vec::new(),
        ..walk.finish()
    }
}

/// A walk without a carrier: from the start at `now`, each of `inputs` answering the next
/// menu, until the flow ends or the inputs run out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    pub steps: Vec<Step>,
    /// Everything heard, menus' questions too.
    pub heard: Vec<Prompt>,
    pub last: Turn,
    pub inputs_used: usize,
}

pub fn simulate(
    flow: &FlowDefinition,
    language: Language,
    now: DateTime<Utc>,
    inputs: &[Answer],
) -> Simulation {
    let mut turn = start(flow, language, now);
    let mut steps = Vec::new();
    let mut heard = Vec::new();
    let mut used = 0;
    loop {
        steps.append(&mut turn.steps);
        heard.extend(turn.prompts.iter().cloned());
        let Then::Ask(question) = &turn.then else {
            break;
        };
        heard.push(question.prompt.clone());
        let Some(input) = inputs.get(used) else {
            break;
        };
        used += 1;
        let (node, attempt) = (question.node.clone(), question.attempt);
        turn = answer(flow, turn.language, now, &node, attempt, input.clone())
            .expect("a question is asked at a menu");
    }
    Simulation {
        steps,
        heard,
        last: turn,
        inputs_used: used,
    }
}

/// The choice `answer` makes, if it makes one: the digits pressed, or a choice's words heard
/// in what was said.
fn chosen<'m>(menu: &'m Menu, language: Language, answer: &Answer) -> Option<&'m str> {
    let choice = match answer {
        Answer::Digits(digits) => menu
            .choices
            .iter()
            .find(|c| c.digits.as_deref() == Some(digits.as_str())),
        Answer::Speech(said) => {
            let said = said.to_lowercase();
            menu.choices.iter().find(|c| {
                c.words
                    .get(&language)
                    .is_some_and(|words| words.iter().any(|w| said.contains(&w.to_lowercase())))
            })
        }
        Answer::Nothing => None,
    };
    choice.map(|c| c.next.as_str())
}

/// Whether `hours` are open at `now`.
pub fn open(hours: &BusinessHours, now: DateTime<Utc>) -> bool {
    let Ok(zone) = hours.zone.parse::<chrono_tz::Tz>() else {
        return false;
    };
    let local = now.with_timezone(&zone);
    if hours.holidays.contains(&local.date_naive()) {
        return false;
    }
    let day = Day::of(local.weekday());
    let time = local.time();
    hours.hours.iter().any(|opening| {
        let (Some(from), Some(to)) = (parse_time(&opening.from), parse_time(&opening.to)) else {
            return false;
        };
        let before_end = opening.to == "24:00" || time < to;
        opening.days.contains(&day) && time >= from && before_end
    })
}

struct Walk<'f> {
    flow: &'f FlowDefinition,
    language: Language,
    now: DateTime<Utc>,
    steps: Vec<Step>,
    prompts: Vec<Prompt>,
    then: Option<Then>,
}

impl<'f> Walk<'f> {
    fn new(flow: &'f FlowDefinition, language: Language, now: DateTime<Utc>) -> Self {
        Self {
            flow,
            language,
            now,
            steps: Vec::new(),
            prompts: Vec::new(),
            then: None,
        }
    }

    fn say(&mut self, texts: &std::collections::BTreeMap<Language, String>) -> Prompt {
        let text = texts
            .get(&self.language)
            .or_else(|| texts.values().next())
            .cloned()
            .unwrap_or_default();
        Prompt::Say {
            language: self.language,
            text,
        }
    }

    /// Enters `name` (a menu for the `attempt`th time), then goes on until the walk stops. A
    /// valid flow stops within as many steps as it has nodes; the bound keeps an invalid one
    /// from spinning (it hangs up).
    fn enter(&mut self, name: &str, mut answer: Option<Answer>, mut attempt: u32) {
        let mut name = name.to_owned();
        for _ in 0..=self.flow.nodes.len() {
            let Some(node) = self.flow.nodes.get(&name) else {
                break;
            };
            if let Node::SetLanguage(SetLanguage { language, .. }) = node {
                self.language = *language;
            }
            let is_menu = matches!(node, Node::Menu(_));
            self.steps.push(Step {
                node: name.clone(),
                kind: node.kind(),
                attempt: is_menu.then_some(attempt),
                answer: answer.take(),
                language: self.language,
            });
            let next = match node {
                Node::Say(Say { text, .. }) => {
                    let prompt = self.say(text);
                    self.prompts.push(prompt);
                    successors(node)[0]
                }
                Node::Play(Play { url, .. }) => {
                    self.prompts.push(Prompt::Play { url: url.clone() });
                    successors(node)[0]
                }
                Node::SetLanguage(SetLanguage { next, .. }) => next,
                Node::BusinessHours(hours) if open(hours, self.now) => &hours.if_open,
                Node::BusinessHours(hours) => &hours.if_closed,
                Node::Menu(menu) => {
                    self.then = Some(Then::Ask(self.question(&name, menu, attempt)));
                    return;
                }
                Node::Queue(Queue {
                    skills,
                    priority,
                    language,
                }) => {
                    self.then = Some(Then::Queue {
                        skills: skills.clone(),
                        language: language.unwrap_or(self.language),
                        priority: *priority,
                    });
                    return;
                }
                Node::Voicemail(Voicemail {
                    text, max_seconds, ..
                }) => {
                    let prompt = self.say(text);
                    self.prompts.push(prompt);
                    self.then = Some(Then::Voicemail {
                        max_seconds: *max_seconds,
                    });
                    return;
                }
                Node::Transfer(Transfer { to }) => {
                    self.then = Some(Then::Transfer { to: to.clone() });
                    return;
                }
                Node::HangUp(HangUp { text }) => {
                    if let Some(text) = text {
                        let prompt = self.say(text);
                        self.prompts.push(prompt);
                    }
                    self.then = Some(Then::HangUp);
                    return;
                }
            };
            name = next.to_owned();
            attempt = 1;
        }
        tracing::error!(node = %name, "an IVR flow that does not stop: hanging up");
        self.then = Some(Then::HangUp);
    }

    fn question(&mut self, name: &str, menu: &Menu, attempt: u32) -> Question {
        Question {
            node: name.to_owned(),
            attempt,
            prompt: self.say(&menu.text),
            dtmf: menu.input.contains(&InputKind::Dtmf),
            speech: menu.input.contains(&InputKind::Speech),
            timeout_seconds: menu.timeout_seconds,
            digits: menu
                .choices
                .iter()
                .find_map(|c| c.digits.as_ref().map(|d| d.len() as u32))
                .unwrap_or(0),
            hints: menu
                .choices
                .iter()
                .filter_map(|c| c.words.get(&self.language))
                .flatten()
                .cloned()
                .collect(),
        }
    }

    fn finish(self) -> Turn {
        Turn {
            steps: self.steps,
            prompts: self.prompts,
            then: self.then.unwrap_or(Then::HangUp),
            language: self.language,
        }
    }
}
