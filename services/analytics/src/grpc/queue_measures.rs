//! `GetQueueMeasures`: the request read, and the report as the API gives it.

use chrono::{DateTime, Utc};
use comms_proto::v1::{self, StatusCount};
use comms_proto::{ApiError, Language, Violations};

use super::period::{self, Period};
use crate::queues::{self, AgentTime, Measures, Report, Series, WaitingNow};

/// The longest threshold a service level may have (an hour).
const MAX_SERVICE_LEVEL_SECONDS: u32 = 3600;

/// Reads the request, every field's problem named.
pub(super) fn read(
    request: &v1::GetQueueMeasuresRequest,
    now: DateTime<Utc>,
) -> Result<(Period, queues::Filter), ApiError> {
    let mut violations = Violations::default();
    let period = period::read(
        &mut violations,
        period::Fields {
            from: &request.from,
            to: &request.to,
            interval: &request.interval,
            time_zone: &request.time_zone,
        },
    );
    let service_level_seconds = match request.service_level_seconds {
        0 => Some(queues::DEFAULT_SERVICE_LEVEL_SECONDS),
        seconds => violations.check(
            "service_level_seconds",
            (seconds <= MAX_SERVICE_LEVEL_SECONDS)
                .then_some(seconds)
                .ok_or_else(|| {
                    format!("{seconds} is not between 1 and {MAX_SERVICE_LEVEL_SECONDS}")
                }),
        ),
    };
    let language = match request.language.as_str() {
        "" => None,
        code => violations
            .check("language", Language::parse(code).map_err(|e| e.to_string()))
            .map(|l| l.as_str().to_owned()),
    };
    let skill = match request.skill.as_str() {
        "" => None,
        skill => violations.check(
            "skill",
            comms_events::agent::is_skill_name(skill)
                .then(|| skill.to_owned())
                .ok_or_else(|| {
                    format!("{skill:?} is not a skill name (1-50 of a-z, 0-9, _ and -)")
                }),
        ),
    };
    violations.finish()?;
    let filter = queues::Filter {
        language,
        skill,
        service_level_seconds: service_level_seconds.expect("checked"),
    };
    Ok((period.resolve(now)?, filter))
}

pub(super) fn to_proto(
    report: Report,
    period: &Period,
    filter: &queues::Filter,
    now: DateTime<Utc>,
) -> v1::QueueMeasuresReport {
    let bounds = &period.bounds;
    let whole = (bounds[0], bounds[bounds.len() - 1]);
    let queues = report
        .queues
        .into_iter()
        .map(|q| {
            series(
                q.queue.skills,
                q.queue.language,
                &q.calls,
                None,
                q.now,
                bounds,
                whole,
            )
        })
        .collect();
    let organization = series(
        Vec::new(),
        String::new(),
        &report.organization,
        Some(&report.agent_time),
        report.waiting_now,
        bounds,
        whole,
    );
    v1::QueueMeasuresReport {
        time_zone: period.zone.name().to_owned(),
        interval: period.interval.as_str().to_owned(),
        service_level_seconds: filter.service_level_seconds,
        queues,
        organization: Some(organization),
        agents_now: report
            .agents_now
            .into_iter()
            .map(|(status, count)| StatusCount { status, count })
            .collect(),
        generated_at: Some(comms_proto::time::to_timestamp(now)),
        next_from: period.rest.map(comms_proto::time::to_timestamp),
    }
}

fn series(
    skills: Vec<String>,
    language: String,
    calls: &Series<Measures>,
    agent_time: Option<&Series<AgentTime>>,
    now: WaitingNow,
    bounds: &[DateTime<Utc>],
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> v1::QueueSeries {
    v1::QueueSeries {
        skills,
        language,
        intervals: bounds
            .windows(2)
            .zip(&calls.intervals)
            .enumerate()
            .map(|(i, (pair, m))| {
                let time = agent_time.map(|t| &t.intervals[i]);
                measures(pair[0], pair[1], m, time)
            })
            .collect(),
        total: Some(measures(
            start,
            end,
            &calls.total,
            agent_time.map(|t| &t.total),
        )),
        now: Some(v1::WaitingNow {
            calls: now.calls,
            longest_wait_seconds: now.longest_wait_seconds,
        }),
    }
}

fn measures(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    m: &Measures,
    agent_time: Option<&AgentTime>,
) -> v1::QueueMeasures {
    v1::QueueMeasures {
        start: Some(comms_proto::time::to_timestamp(start)),
        end: Some(comms_proto::time::to_timestamp(end)),
        offered: m.offered,
        answered: m.answered,
        abandoned: m.abandoned,
        waiting: m.waiting,
        answered_within_threshold: m.answered_within_threshold,
        service_level: m.service_level(),
        abandon_rate: m.abandon_rate(),
        average_speed_of_answer_seconds: m.average_speed_of_answer_seconds(),
        longest_wait_seconds: m.longest_wait_seconds,
        average_handle_seconds: m.average_handle_seconds(),
        occupancy: agent_time.and_then(AgentTime::occupancy),
    }
}
