//! A flow checked before any caller hears it: every reference names a node, every node is
//! reachable from the start, every path can end, no loop goes round without asking the caller
//! something, and every text is there in every language the flow declares. Each problem names
//! its node (`nodes.<name>.<field>`). Whether the skills it queues to exist is asked of the
//! agents service (see `IvrFlows`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveTime;
use comms_events::ivr::{
    FlowDefinition, HangUp, InputKind, Menu, Node, Play, Queue, Say, SetLanguage, Texts, Voicemail,
};
use comms_proto::Language;

const MAX_TEXT: usize = 1000;
const MAX_NODES: usize = 200;
const MAX_WORDS: usize = 20;
const MAX_VOICEMAIL_SECONDS: u32 = 600;
const MAX_PRIORITY: i32 = 100;

/// Every problem with the flow, each with the field it is in.
pub fn validate(flow: &FlowDefinition) -> Vec<(String, String)> {
    let mut check = Check {
        flow,
        problems: Vec::new(),
    };
    check.languages();
    if flow.nodes.is_empty() || flow.nodes.len() > MAX_NODES {
        check.add("nodes", format!("1 to {MAX_NODES} nodes"));
    }
    if !flow.nodes.contains_key(&flow.start) {
        check.add("start", format!("{:?} names no node", flow.start));
    }
    for (name, node) in &flow.nodes {
        check.node(name, node);
    }
    // The graph's shape only means something once every reference resolves.
    if check.problems.is_empty() {
        check.shape();
    }
    check.problems
}

/// The nodes a node goes on to, and whether it waits for the caller first.
pub fn successors(node: &Node) -> Vec<&str> {
    match node {
        Node::Say(Say { next, .. })
        | Node::Play(Play { next, .. })
        | Node::SetLanguage(SetLanguage { next, .. }) => vec![next],
        Node::Menu(menu) => menu
            .choices
            .iter()
            .map(|c| c.next.as_str())
            .chain([menu.otherwise.as_str()])
            .collect(),
        Node::BusinessHours(hours) => vec![&hours.if_open, &hours.if_closed],
        Node::Queue(_) | Node::Voicemail(_) | Node::Transfer(_) | Node::HangUp(_) => vec![],
    }
}

/// `HH:MM` (`24:00` for the end of a day).
pub fn parse_time(value: &str) -> Option<NaiveTime> {
    if value == "24:00" {
        return Some(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(value, "%H:%M").ok()
}

struct Check<'a> {
    flow: &'a FlowDefinition,
    problems: Vec<(String, String)>,
}

impl Check<'_> {
    fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.problems.push((field.into(), reason.into()));
    }

    fn languages(&mut self) {
        let languages = &self.flow.languages;
        if languages.is_empty() {
            self.add("languages", "at least one language");
        }
        for (i, language) in languages.iter().enumerate() {
            if languages[..i].contains(language) {
                self.add(
                    "languages",
                    format!("{} is listed twice", language.as_str()),
                );
            }
        }
    }

    fn reference(&mut self, node: &str, field: &str, target: &str) {
        if !self.flow.nodes.contains_key(target) {
            self.add(
                format!("nodes.{node}.{field}"),
                format!("{target:?} names no node"),
            );
        }
    }

    /// Present, not empty and not too long in each of the flow's languages, and in no other.
    fn texts(&mut self, node: &str, field: &str, texts: &Texts) {
        for language in &self.flow.languages {
            match texts.get(language) {
                None => self.add(
                    format!("nodes.{node}.{field}"),
                    format!(
                        "no text in {}, one of the flow's languages",
                        language.as_str()
                    ),
                ),
                Some(text) if text.trim().is_empty() || text.chars().count() > MAX_TEXT => self
                    .add(
                        format!("nodes.{node}.{field}.{}", language.as_str()),
                        format!("1 to {MAX_TEXT} characters"),
                    ),
                Some(_) => {}
            }
        }
        self.only_declared(node, field, texts.keys());
    }

    fn only_declared<'l>(
        &mut self,
        node: &str,
        field: &str,
        languages: impl Iterator<Item = &'l Language>,
    ) {
        for language in languages {
            if !self.flow.languages.contains(language) {
                self.add(
                    format!("nodes.{node}.{field}.{}", language.as_str()),
                    "not one of the flow's languages",
                );
            }
        }
    }

    fn node(&mut self, name: &str, node: &Node) {
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            self.add(
                format!("nodes.{name}"),
                "a node's name is 1 to 64 of a-z, 0-9, _ and -",
            );
        }
        match node {
            Node::Say(Say { text, next }) => {
                self.texts(name, "text", text);
                self.reference(name, "next", next);
            }
            Node::Play(Play { url, next }) => {
                let fine = url.starts_with("https://") && url.len() <= 2000 && !url.contains(' ');
                if !fine {
                    self.add(
                        format!("nodes.{name}.url"),
                        "an https URL of at most 2000 characters",
                    );
                }
                self.reference(name, "next", next);
            }
            Node::Menu(menu) => self.menu(name, menu),
            Node::BusinessHours(hours) => {
                if hours.zone.parse::<chrono_tz::Tz>().is_err() {
                    self.add(
                        format!("nodes.{name}.zone"),
                        format!("{:?} is not an IANA time zone", hours.zone),
                    );
                }
                if hours.hours.is_empty() {
                    self.add(format!("nodes.{name}.hours"), "at least one opening");
                }
                for (i, opening) in hours.hours.iter().enumerate() {
                    let field = format!("nodes.{name}.hours[{i}]");
                    if opening.days.is_empty() {
                        self.add(format!("{field}.days"), "at least one day");
                    }
                    let from = parse_time(&opening.from).filter(|_| opening.from != "24:00");
                    let to = parse_time(&opening.to);
                    match (from, to) {
                        (None, _) => self.add(format!("{field}.from"), "HH:MM, 00:00 to 23:59"),
                        (_, None) => self.add(format!("{field}.to"), "HH:MM, 00:01 to 24:00"),
                        (Some(from), Some(to)) if opening.to != "24:00" && to <= from => {
                            self.add(format!("{field}.to"), "after `from`")
                        }
                        _ => {}
                    }
                }
                self.reference(name, "if_open", &hours.if_open);
                self.reference(name, "if_closed", &hours.if_closed);
            }
            Node::SetLanguage(SetLanguage { language, next }) => {
                if !self.flow.languages.contains(language) {
                    self.add(
                        format!("nodes.{name}.language"),
                        format!("{} is not one of the flow's languages", language.as_str()),
                    );
                }
                self.reference(name, "next", next);
            }
            Node::Queue(Queue {
                skills,
                priority,
                language,
            }) => {
                if let Err(reason) = comms_events::agent::check_required_skills(skills) {
                    self.add(format!("nodes.{name}.skills"), reason);
                }
                if !(0..=MAX_PRIORITY).contains(priority) {
                    self.add(
                        format!("nodes.{name}.priority"),
                        format!("0 to {MAX_PRIORITY}"),
                    );
                }
                if let Some(language) = language
                    && !self.flow.languages.contains(language)
                {
                    self.add(
                        format!("nodes.{name}.language"),
                        format!("{} is not one of the flow's languages", language.as_str()),
                    );
                }
            }
            Node::Voicemail(Voicemail {
                text, max_seconds, ..
            }) => {
                self.texts(name, "text", text);
                if !(1..=MAX_VOICEMAIL_SECONDS).contains(max_seconds) {
                    self.add(
                        format!("nodes.{name}.max_seconds"),
                        format!("1 to {MAX_VOICEMAIL_SECONDS}"),
                    );
                }
            }
            Node::Transfer(_) => {}
            Node::HangUp(HangUp { text }) => {
                if let Some(text) = text {
                    self.texts(name, "text", text);
                }
            }
        }
    }

    fn menu(&mut self, name: &str, menu: &Menu) {
        self.texts(name, "text", &menu.text);
        let field = |f: &str| format!("nodes.{name}.{f}");
        if menu.input.is_empty() {
            self.add(field("input"), "dtmf, speech or both");
        }
        if !(1..=30).contains(&menu.timeout_seconds) {
            self.add(field("timeout_seconds"), "1 to 30");
        }
        if menu.retries > 5 {
            self.add(field("retries"), "0 to 5");
        }
        if menu.choices.is_empty() || menu.choices.len() > 12 {
            self.add(field("choices"), "1 to 12 choices");
        }
        let mut digits_seen = BTreeSet::new();
        let lengths: BTreeSet<usize> = menu
            .choices
            .iter()
            .filter_map(|c| c.digits.as_ref().map(String::len))
            .collect();
        if lengths.len() > 1 {
            self.add(
                field("choices"),
                "every choice's digits have the same length (the caller is not asked to end with #)",
            );
        }
        for (i, choice) in menu.choices.iter().enumerate() {
            let at = format!("choices[{i}]");
            if choice.digits.is_none() && choice.words.is_empty() {
                self.add(field(&at), "digits, words or both");
            }
            if let Some(digits) = &choice.digits {
                let valid = (1..=5).contains(&digits.len())
                    && digits
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
                if !valid {
                    self.add(field(&format!("{at}.digits")), "1 to 5 of 0-9, * and #");
                } else if !digits_seen.insert(digits.clone()) {
                    self.add(
                        field(&format!("{at}.digits")),
                        format!("{digits:?} chooses another choice already"),
                    );
                }
                if !menu.input.contains(&InputKind::Dtmf) {
                    self.add(
                        field(&format!("{at}.digits")),
                        "the menu's input has no dtmf",
                    );
                }
            }
            if !choice.words.is_empty() && !menu.input.contains(&InputKind::Speech) {
                self.add(
                    field(&format!("{at}.words")),
                    "the menu's input has no speech",
                );
            }
            for (language, words) in &choice.words {
                let fine = !words.is_empty()
                    && words.len() <= MAX_WORDS
                    && words
                        .iter()
                        .all(|w| !w.trim().is_empty() && w.chars().count() <= 100);
                if !fine {
                    self.add(
                        field(&format!("{at}.words.{}", language.as_str())),
                        format!("1 to {MAX_WORDS} words or phrases of 1 to 100 characters"),
                    );
                }
            }
            self.only_declared(name, &format!("{at}.words"), choice.words.keys());
            self.reference(name, &format!("{at}.next"), &choice.next);
        }
        self.reference(name, "otherwise", &menu.otherwise);
    }

    /// Reachability, a way out of every node, and no loop without a menu in it.
    fn shape(&mut self) {
        let nodes = &self.flow.nodes;
        let reached = reachable(&self.flow.start, |n| successors(&nodes[n]));
        for name in nodes.keys() {
            if !reached.contains(name.as_str()) {
                self.add(
                    format!("nodes.{name}"),
                    format!("unreachable from the start ({:?})", self.flow.start),
                );
            }
        }
        // Nodes from which an end (a node with no successor) can be reached.
        let mut predecessors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, node) in nodes {
            for next in successors(node) {
                predecessors.entry(next).or_default().push(name);
            }
        }
        let mut can_end = BTreeSet::new();
        for (name, node) in nodes {
            if successors(node).is_empty() {
                can_end.extend(reachable(name, |n| {
                    predecessors.get(n).cloned().unwrap_or_default()
                }));
            }
        }
        for name in nodes.keys() {
            if reached.contains(name.as_str()) && !can_end.contains(name.as_str()) {
                self.add(
                    format!("nodes.{name}"),
                    "a dead end: no path from here reaches a queue, voicemail, transfer or hang_up",
                );
            }
        }
        if let Some(cycle) = loop_without_input(self.flow) {
            self.add(
                format!("nodes.{}", cycle[0]),
                format!(
                    "a loop that never asks the caller anything: {}",
                    cycle.join(" → ")
                ),
            );
        }
    }
}

fn reachable<'a, F>(from: &'a str, next: F) -> BTreeSet<&'a str>
where
    F: Fn(&'a str) -> Vec<&'a str>,
{
    let mut seen = BTreeSet::from([from]);
    let mut todo = vec![from];
    while let Some(node) = todo.pop() {
        for n in next(node) {
            if seen.insert(n) {
                todo.push(n);
            }
        }
    }
    seen
}

/// A cycle through nodes that do not wait for the caller (menus do), as the names on it
/// with the first repeated at the end; the walk would go round it for ever.
fn loop_without_input(flow: &FlowDefinition) -> Option<Vec<String>> {
    let passes_through = |name: &str| !matches!(flow.nodes.get(name), Some(Node::Menu(_)) | None);
    // Depth-first, colouring: 1 on the current path, 2 done.
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
    for start in flow.nodes.keys().filter(|n| passes_through(n)) {
        if colour.contains_key(start.as_str()) {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        colour.insert(start, 1);
        while let Some((node, index)) = path.last().copied() {
            let next = successors(&flow.nodes[node]);
            if index < next.len() {
                path.last_mut().expect("not empty").1 += 1;
                let n = next[index];
                if !passes_through(n) {
                    continue;
                }
                match colour.get(n) {
                    Some(1) => {
                        let from = path.iter().position(|(p, _)| *p == n).expect("on the path");
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(p, _)| (*p).to_owned()).collect();
                        cycle.push(n.to_owned());
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        colour.insert(n, 1);
                        path.push((n, 0));
                    }
                }
            } else {
                colour.insert(node, 2);
                path.pop();
            }
        }
    }
    None
}
