//! One client's socket: catch up from its position by reading the log, join the edge's
//! broadcast where the reading ends, and send each event the reader may see exactly once, in the
//! log's order. Pings find dead clients; a client that cannot keep up is dropped, never waited
//! for.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use comms_eventstore::{Checkpoint, Filter, RecordedEvent};
use comms_runtime::Shutdown;
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::audience::Viewer;
use super::{Live, LiveEvent, Slot, format_position};

/// Events read from the log per query while catching up.
const CATCH_UP_BATCH: usize = 500;
/// Most live events sent with one flush.
const LIVE_BATCH: usize = 64;

/// Why the server closes a socket: a close code (docs/live.md) and what to do about it.
#[derive(Debug)]
struct Close {
    code: u16,
    reason: String,
    /// The `comms_live_clients_dropped_total` label.
    metric: &'static str,
}

impl Close {
    const GOING_AWAY: u16 = 1001;
    const UNAVAILABLE: u16 = 1011;
    const NO_PONG: u16 = 4000;
    const TOO_SLOW: u16 = 4008;

    fn new(code: u16, metric: &'static str, reason: String) -> Self {
        Self {
            code,
            reason,
            metric,
        }
    }
}

/// Where a socket's events come from: the log until it has caught up, then the broadcast.
enum Source {
    /// Reading the log; once the broadcast is joined, until its starting position.
    Log(Option<(broadcast::Receiver<Arc<LiveEvent>>, Checkpoint)>),
    Live(broadcast::Receiver<Arc<LiveEvent>>),
}

struct Feed {
    live: Arc<Live>,
    source: Source,
    /// The last event handled (sent, or not the reader's).
    position: Checkpoint,
}

impl Feed {
    fn new(live: Arc<Live>, after: Option<Checkpoint>) -> Self {
        let (source, position) = match after {
            Some(after) => (Source::Log(None), after),
            None => {
                let (receiver, head) = live.subscribe();
                (Source::Live(receiver), head)
            }
        };
        Self {
            live,
            source,
            position,
        }
    }

    /// The next events, which may include some at or before `position` (skipped by the caller).
    async fn next(&mut self, org: &str) -> Result<Vec<Arc<LiveEvent>>, Close> {
        loop {
            match &mut self.source {
                Source::Live(receiver) => {
                    let mut events = match receiver.recv().await {
                        Ok(event) => vec![event],
                        Err(RecvError::Lagged(_)) => return Err(self.too_slow()),
                        Err(RecvError::Closed) => return Err(self.going_away()),
                    };
                    // Whatever else is already there goes out with it, in one flush.
                    while events.len() < LIVE_BATCH {
                        match receiver.try_recv() {
                            Ok(event) => events.push(event),
                            Err(TryRecvError::Lagged(_)) => return Err(self.too_slow()),
                            Err(_) => break,
                        }
                    }
                    return Ok(events);
                }
                Source::Log(joined) => {
                    if let Some((_, head)) = joined
                        && self.position >= *head
                    {
                        let (receiver, _) = joined.take().expect("joined");
                        self.source = Source::Live(receiver);
                        continue;
                    }
                    let batch = self
                        .live
                        .store
                        .read_all(self.position, &Filter::All, CATCH_UP_BATCH)
                        .await
                        .map_err(|error| {
                            tracing::warn!(%error, "a live socket could not read the log");
                            Close::new(
                                Close::UNAVAILABLE,
                                "unavailable",
                                format!(
                                    "the log cannot be read now; reconnect with after={}",
                                    format_position(self.position)
                                ),
                            )
                        })?;
                    if batch.is_empty() {
                        // Caught up: join the broadcast, then read on up to where it starts.
                        match joined.take() {
                            None => *joined = Some(self.live.subscribe()),
                            Some((receiver, _)) => self.source = Source::Live(receiver),
                        }
                        continue;
                    }
                    let mut events = Vec::with_capacity(batch.len());
                    for recorded in &batch {
                        events.push(Arc::new(self.event_of(org, recorded).await));
                    }
                    return Ok(events);
                }
            }
        }
    }

    /// Another organization's events only move the position on.
    async fn event_of(&self, org: &str, recorded: &RecordedEvent) -> LiveEvent {
        if recorded.tenant_id == org {
            self.live.event_of(recorded).await
        } else {
            LiveEvent {
                position: recorded.checkpoint(),
                org: recorded.tenant_id.clone(),
                category: None,
                audience: Default::default(),
                message: None,
            }
        }
    }

    fn too_slow(&self) -> Close {
        Close::new(
            Close::TOO_SLOW,
            "slow",
            format!(
                "too slow: more than {} events behind; reconnect with after={}",
                self.live.config.buffer,
                format_position(self.position)
            ),
        )
    }

    fn going_away(&self) -> Close {
        Close::new(
            Close::GOING_AWAY,
            "shutdown",
            format!(
                "the edge is shutting down; reconnect with after={}",
                format_position(self.position)
            ),
        )
    }
}

/// Serves `socket` to `viewer` from `after` (or from now) until either side closes it.
pub async fn serve(
    live: Arc<Live>,
    socket: WebSocket,
    mut viewer: Viewer,
    after: Option<Checkpoint>,
    _slot: Slot,
    shutdown: Shutdown,
) {
    let (mut sink, mut incoming) = socket.split();
    let (config, drain) = (live.config.clone(), live.drain);
    let mut feed = Feed::new(live, after);
    let org = viewer.identity.org_id.clone();
    // Messages go out together, one flush for all; each batch within the send timeout.
    let send = async |sink: &mut futures::stream::SplitSink<WebSocket, Message>,
                      messages: Vec<Message>| {
        let all = async {
            for message in messages {
                sink.feed(message).await?;
            }
            sink.flush().await
        };
        match tokio::time::timeout(config.send_timeout, all).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(None),
            Err(_) => Err(Some(Close::new(
                Close::TOO_SLOW,
                "slow",
                format!(
                    "too slow: a message waited over {} s to go out",
                    config.send_timeout.as_secs()
                ),
            ))),
        }
    };
    let hello = serde_json::json!({
        "type": "hello",
        "position": format_position(feed.position),
        "organization_id": org,
        "user_id": viewer.identity.user_id,
        "role": viewer.identity.role.as_str(),
    });
    let mut told = feed.position;
    let mut ping = tokio::time::interval(config.ping);
    ping.tick().await;
    let mut answered = true;
    let outcome: Result<(), Option<Close>> = async {
        send(&mut sink, vec![Message::Text(hello.to_string().into())]).await?;
        loop {
            tokio::select! {
                () = shutdown.clone().closing(drain) => return Err(Some(feed.going_away())),
                message = incoming.next() => match message {
                    Some(Ok(Message::Pong(_))) => answered = true,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(None),
                    // Nothing is asked of clients; their pings the socket answers itself.
                    Some(Ok(_)) => {}
                },
                _ = ping.tick() => {
                    if !answered {
                        return Err(Some(Close::new(Close::NO_PONG, "no_pong", "no pong to the last ping".into())));
                    }
                    answered = false;
                    if feed.position > told {
                        // Events the reader may not see moved the position: say so, so that
                        // a resume starts here rather than re-reading them.
                        let message = format!(r#"{{"type":"position","position":"{}"}}"#, format_position(feed.position));
                        send(&mut sink, vec![Message::Text(message.into())]).await?;
                        told = feed.position;
                    }
                    send(&mut sink, vec![Message::Ping(Default::default())]).await?;
                }
                events = feed.next(&org) => {
                    let mut messages = Vec::new();
                    for event in events.map_err(Some)? {
                        if event.position <= feed.position {
                            continue;
                        }
                        feed.position = event.position;
                        let Some(message) = &event.message else { continue };
                        let category = event.category.unwrap_or_default();
                        if viewer.sees(&event.org, category, &event.audience) {
                            messages.push(Message::Text(message.clone()));
                        }
                    }
                    if !messages.is_empty() {
                        let count = messages.len() as u64;
                        send(&mut sink, messages).await?;
                        told = feed.position;
                        metrics::counter!("comms_live_events_sent_total").increment(count);
                    }
                }
            }
        }
    }
    .await;
    if let Err(Some(close)) = outcome {
        tracing::info!(org = %org, code = close.code, reason = %close.reason, "closing a live socket");
        metrics::counter!("comms_live_clients_dropped_total", "reason" => close.metric)
            .increment(1);
        let frame = CloseFrame {
            code: close.code,
            reason: Utf8Bytes::from(close.reason),
        };
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
