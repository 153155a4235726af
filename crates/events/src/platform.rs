//! Events other platform modules publish and the fleet consumes: as much of each as we read.
//! Fields we do not read are ignored (their publishers may add fields at any time, as AWS and
//! Twilio tell their consumers); what we read is checked, and a payload that does not parse is
//! dead-lettered naming the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

crate::event_set! {
    /// The CRM's contact events, read by the campaigns service to keep contacts in sync.
    pub enum CrmContactEvent bound as "crm.contact.*" {
        Created(CrmContactCreated),
        Updated(CrmContactUpdated),
    }
}

crate::event_set! {
    /// The planning module's events that can trigger a campaign.
    pub enum PlanningEvent bound as "planning.task.completed" {
        TaskCompleted(TaskCompleted),
    }
}

crate::event_set! {
    /// The tasks module's events the calls service notifies people of.
    pub enum TaskEvent bound as "tasks.*" {
        Assigned(TaskAssigned),
        Overdue(TaskOverdue),
    }
}

crate::event_set! {
    /// The planning module's project events the calls service notifies people of.
    pub enum ProjectEvent bound as "planning.project.*" {
        MilestoneReached(MilestoneReached),
    }
}

/// What the calls service reads of a task assigned to someone, or overdue: who is notified
/// (`assignee_id`, a platform user of the event's organization) and what they are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskNotice {
    #[schemars(length(min = 1, max = 128))]
    pub task_id: String,
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// The user to notify.
    #[schemars(length(min = 1, max = 128))]
    pub assignee_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
}

crate::same_fields! { TaskNotice =>
    /// A task was assigned to someone: they are told, by text, per their preferences.
    TaskAssigned;
    /// A task is past its due time: its assignee is reminded.
    TaskOverdue;
}

/// A project reached a milestone: its members are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MilestoneReached {
    #[schemars(length(min = 1, max = 128))]
    pub project_id: String,
    #[schemars(length(min = 1, max = 200))]
    pub project_name: String,
    #[schemars(length(min = 1, max = 200))]
    pub milestone: String,
    /// The users to notify: the project's members.
    #[schemars(length(min = 1, max = 500))]
    pub member_ids: Vec<String>,
}

/// What the campaigns service reads of a CRM contact (created and updated alike). Either `phone`
/// or `phones` is required; `updated_at` orders late arrivals (the envelope's timestamp when
/// absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrmContact {
    /// The CRM's id of the contact.
    #[schemars(length(min = 1, max = 128))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// One of the platform's languages; empty or absent means English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An IANA zone; the contact's calling window is kept in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<bool>,
    #[serde(default)]
    pub do_not_call: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

crate::same_fields! { CrmContact =>
    /// The CRM created a contact.
    CrmContactCreated;
    /// The CRM changed a contact.
    CrmContactUpdated;
}

/// A planning task was completed: `task_id` (one trigger per task, however often delivered),
/// `contact_id` (the CRM's id, for triggers that add the task's contact); a trigger's `matching`
/// may name any other field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskCompleted {
    #[schemars(length(min = 1))]
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
}

crate::events! {
    CrmContactCreated => "crm.contact.created", version 1, "the CRM created a contact: kept in sync by the campaigns service";
    CrmContactUpdated => "crm.contact.updated", version 1, "the CRM changed a contact: kept in sync by the campaigns service";
    TaskCompleted => "planning.task.completed", version 1, "a planning task was completed: campaign triggers";
    TaskAssigned => "tasks.assigned", version 1, "a task was assigned: its assignee is notified";
    TaskOverdue => "tasks.overdue", version 1, "a task is overdue: its assignee is reminded";
    MilestoneReached => "planning.project.milestone_reached", version 1, "a project reached a milestone: its members are notified";
}
