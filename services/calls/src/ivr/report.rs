//! Where a flow's callers go and where they hang up, per version: read from the calls' own
//! read model (`calls_view`, each call's place in its flow), which is written in the
//! transaction that appends the call's events, so it says exactly what the streams say.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::IvrFlows;
use comms_proto::ApiError;

/// One version's calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionReport {
    pub version: u32,
    pub calls: i64,
    /// The flow asked for an agent.
    pub queued: i64,
    /// Over without reaching a queue: at a menu (a drop-out) or at the flow's own end
    /// (voicemail, transfer, hang_up).
    pub ended_in_flow: i64,
    /// Still in the flow now.
    pub in_flow: i64,
    /// Per node: calls that reached it, and calls that ended there without being queued.
    pub nodes: BTreeMap<String, NodeReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReport {
    pub reached: i64,
    pub ended_here: i64,
}

const FINAL: &str = "status NOT IN ('initiated', 'ringing', 'answered')";

impl IvrFlows {
    /// The flow's report, per version that answered calls, oldest first.
    pub async fn report(&self, org: &str, flow_id: Uuid) -> Result<Vec<VersionReport>, ApiError> {
        self.get(org, flow_id).await?;
        let error = comms_eventstore::unit_of_work::api_error;
        let of_flow = "FROM calls_view
             WHERE organization_id = $1 AND state ? 'ivr'
               AND state -> 'ivr' -> 'flow' ->> 'flow_id' = $2";
        let totals: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (state -> 'ivr' -> 'flow' ->> 'version')::bigint,
                    count(*),
                    count(*) FILTER (WHERE (state -> 'ivr' ->> 'queued')::boolean),
                    count(*) FILTER (WHERE {FINAL} AND NOT (state -> 'ivr' ->> 'queued')::boolean),
                    count(*) FILTER (WHERE NOT {FINAL} AND NOT (state -> 'ivr' ->> 'queued')::boolean)
             {of_flow} GROUP BY 1 ORDER BY 1"
        )))
        .bind(org)
        .bind(flow_id.to_string())
        .fetch_all(self.store.pool())
        .await
        .map_err(error)?;
        let nodes: Vec<(i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (state -> 'ivr' -> 'flow' ->> 'version')::bigint, visited.node,
                    count(*),
                    count(*) FILTER (WHERE {FINAL} AND state -> 'ivr' ->> 'node' = visited.node
                                     AND NOT (state -> 'ivr' ->> 'queued')::boolean)
             FROM calls_view, jsonb_array_elements_text(state -> 'ivr' -> 'visited') AS visited(node)
             WHERE organization_id = $1 AND state ? 'ivr'
               AND state -> 'ivr' -> 'flow' ->> 'flow_id' = $2
             GROUP BY 1, 2"
        )))
        .bind(org)
        .bind(flow_id.to_string())
        .fetch_all(self.store.pool())
        .await
        .map_err(error)?;
        let mut versions: BTreeMap<i64, VersionReport> = totals
            .into_iter()
            .map(|(version, calls, queued, ended_in_flow, in_flow)| {
                let report = VersionReport {
                    version: version as u32,
                    calls,
                    queued,
                    ended_in_flow,
                    in_flow,
                    nodes: BTreeMap::new(),
                };
                (version, report)
            })
            .collect();
        for (version, node, reached, ended_here) in nodes {
            if let Some(report) = versions.get_mut(&version) {
                report.nodes.insert(
                    node,
                    NodeReport {
                        reached,
                        ended_here,
                    },
                );
            }
        }
        Ok(versions.into_values().collect())
    }
}
