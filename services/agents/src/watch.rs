//! `WatchAgents`: the agents in reach as they are now, then each one again whenever its stream
//! gets an event. Changes are read from the event store (category `agent`) from the head that
//! was visible when the watch began, so none falls between the snapshot and the follow; one may
//! arrive twice, which a state snapshot makes harmless.

use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{Checkpoint, Filter};
use comms_proto::ApiError;
use comms_proto::v1;
use tokio_stream::Stream;
use tonic::Status;

use crate::app::Agents;
use crate::convert::to_proto;
use crate::listing::{self, AgentFilter};

/// Agents a wallboard may hold at once; a larger organization should filter by team.
const MAX_SNAPSHOT: usize = 5_000;

pub struct Watch {
    agents: Agents,
    org: String,
    filter: AgentFilter,
    head: Checkpoint,
    snapshot: Vec<v1::Agent>,
}

impl Watch {
    pub async fn start(agents: Agents, org: String, filter: AgentFilter) -> Result<Self, ApiError> {
        let mut conn = agents.pool().acquire().await.map_err(api_error)?;
        let head = Checkpoint::visible_head(&mut conn)
            .await
            .map_err(api_error)?;
        drop(conn);
        let (now, _) = listing::agents(agents.pool(), &org, &filter, None, MAX_SNAPSHOT).await?;
        let snapshot = now.iter().map(to_proto).collect();
        Ok(Self {
            agents,
            org,
            filter,
            head,
            snapshot,
        })
    }

    /// The snapshot, then changes, until the client leaves or `shutdown`; then `UNAVAILABLE`,
    /// so the client watches again (through another instance).
    pub fn stream(
        self,
        shutdown: comms_runtime::Shutdown,
    ) -> impl Stream<Item = Result<v1::Agent, Status>> + Send + 'static {
        let (sender, receiver) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            for agent in self.snapshot {
                if sender.send(Ok(agent)).await.is_err() {
                    return;
                }
            }
            let store = self.agents.store.clone();
            let mut subscription =
                store.subscribe("watch-agents", self.head, Filter::Category("agent".into()));
            let ended = shutdown.wait();
            tokio::pin!(ended);
            loop {
                let batch = tokio::select! {
                    () = &mut ended => {
                        let _ = sender.send(Err(Status::unavailable("the service is shutting down; watch again"))).await;
                        return;
                    }
                    () = sender.closed() => return,
                    batch = subscription.next_batch() => batch,
                };
                let events = match batch {
                    Ok(events) => events,
                    Err(e) => {
                        let _ = sender.send(Err(api_error(e).into())).await;
                        return;
                    }
                };
                for event in events.iter().filter(|e| e.tenant_id == self.org) {
                    let Ok(id) = event.stream_name.trim_start_matches("agent-").parse() else {
                        continue;
                    };
                    let only_this = AgentFilter {
                        only: Some(id),
                        ..self.filter.clone()
                    };
                    let found =
                        listing::agents(self.agents.pool(), &self.org, &only_this, None, 1).await;
                    match found {
                        Ok((agents, _)) => {
                            for agent in agents {
                                if sender.send(Ok(to_proto(&agent))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = sender.send(Err(ApiError::from(e).into())).await;
                            return;
                        }
                    }
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }
}
