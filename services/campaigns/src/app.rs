//! The campaigns service's use cases, each one transaction (retried when a concurrent writer
//! won). Permissions are checked by the gRPC layer; here every query is by organization.

use chrono::{DateTime, Utc};
use comms_auth::Identity;
use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{EventStore, in_transaction};
use comms_proto::{ApiError, PhoneNumber};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::campaign::{Command, Member, Settings, Status};
use crate::domain::contact::{Contact, ContactFields};
use crate::domain::dialing::{self, Callee, DialState, Final, Skip};
use crate::store::campaigns::{self, CampaignView};
use crate::store::contacts::{self, Upserted};
use crate::store::{Versioned, do_not_call};

/// Rows of an import written per transaction: short transactions keep the event store's readers
/// moving (ADR 1); every row is written whole or not at all.
const IMPORT_BATCH: usize = 200;
/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 50_000;

#[derive(Clone)]
pub struct Campaigns {
    pub(crate) store: EventStore,
}

/// A contact's place in a campaign, and why they are or are not dialed now.
#[derive(Debug, Clone)]
pub struct ContactStatus {
    pub member: Member,
    pub contact: Contact,
    pub state: DialState,
    pub status: &'static str,
    pub reason: Option<String>,
}

/// What an import did, row by row.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub added_to_campaign: u32,
    /// Row number (1-based) and each field's problem.
    pub rejected: Vec<(u32, Vec<(String, String)>)>,
}

/// One row of an import: the contact, or what is wrong with it.
pub type ImportRow = Result<ContactFields, Vec<(String, String)>>;

impl Campaigns {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ApiError> {
        self.pool().acquire().await.map_err(api_error)
    }

    pub async fn create(
        &self,
        identity: &Identity,
        settings: Settings,
    ) -> Result<Versioned<CampaignView>, ApiError> {
        let id = Uuid::new_v4();
        in_transaction!(self.store, |tx| {
            let command = Command::Create {
                campaign_id: id,
                settings: settings.clone(),
                at: Utc::now(),
            };
            Ok(campaigns::change(tx, &identity.org_id, &identity.user_id, id, command).await?)
        })
    }

    pub async fn get(
        &self,
        identity: &Identity,
        id: Uuid,
    ) -> Result<Versioned<CampaignView>, ApiError> {
        Ok(campaigns::get(&mut *self.conn().await?, &identity.org_id, id).await?)
    }

    pub async fn list(
        &self,
        identity: &Identity,
        status: Option<Status>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<CampaignView>, ApiError> {
        Ok(campaigns::list(
            &mut *self.conn().await?,
            &identity.org_id,
            status,
            after,
            limit,
        )
        .await?)
    }

    /// Applies `change` to the campaign's settings (a draft or paused campaign's).
    pub async fn update(
        &self,
        identity: &Identity,
        id: Uuid,
        change: impl Fn(Settings) -> Result<Settings, ApiError>,
    ) -> Result<Versioned<CampaignView>, ApiError> {
        in_transaction!(self.store, |tx| {
            let current = campaigns::get(&mut *tx, &identity.org_id, id).await?;
            let settings = change(current.value.campaign.settings)?;
            let command = Command::Update {
                settings,
                at: Utc::now(),
            };
            Ok(campaigns::change(tx, &identity.org_id, &identity.user_id, id, command).await?)
        })
    }

    /// Start, pause, resume, complete or cancel.
    pub async fn transition(
        &self,
        identity: &Identity,
        id: Uuid,
        command: impl Fn(DateTime<Utc>) -> Command,
    ) -> Result<Versioned<CampaignView>, ApiError> {
        in_transaction!(self.store, |tx| {
            Ok(campaigns::change(
                tx,
                &identity.org_id,
                &identity.user_id,
                id,
                command(Utc::now()),
            )
            .await?)
        })
    }

    /// Adds the organization's contacts `ids` to the campaign; an unknown id is refused by name.
    pub async fn add_contacts(
        &self,
        identity: &Identity,
        id: Uuid,
        ids: &[Uuid],
        priority: i32,
    ) -> Result<Versioned<CampaignView>, ApiError> {
        in_transaction!(self.store, |tx| {
            campaigns::get(&mut *tx, &identity.org_id, id).await?;
            let known = contacts::get_many(&mut *tx, &identity.org_id, ids).await?;
            if let Some(missing) = ids.iter().find(|id| !known.contains_key(id)) {
                return Err(ApiError::unknown_reference(
                    "contact_ids",
                    format!("no contact {missing} in this organization"),
                ));
            }
            let new = campaigns::not_yet_members(&mut *tx, id, ids).await?;
            let command = Command::AddContacts {
                contacts: members(&new, priority),
                at: Utc::now(),
                task_id: None,
            };
            Ok(campaigns::change(tx, &identity.org_id, &identity.user_id, id, command).await?)
        })
    }

    /// How many contacts the campaign has, how many are not final, and calls in progress.
    pub async fn progress(&self, id: Uuid) -> Result<(i64, i64, i64), ApiError> {
        let mut conn = self.conn().await?;
        let contacts: i64 =
            sqlx::query_scalar("SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .map_err(api_error)?;
        let (open, calls) = campaigns::open_work(&mut conn, id).await?;
        Ok((contacts, open, calls))
    }

    /// A page of the campaign's contacts with their status and, when not dialable, why.
    pub async fn contact_statuses(
        &self,
        identity: &Identity,
        id: Uuid,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, ContactStatus)>, ApiError> {
        let mut conn = self.conn().await?;
        let campaign = campaigns::get(&mut conn, &identity.org_id, id)
            .await?
            .value
            .campaign;
        let page = campaigns::members(&mut conn, &identity.org_id, id, after, limit).await?;
        let ids: Vec<Uuid> = page.iter().map(|(_, m, _)| m.contact_id).collect();
        let mut known = contacts::get_many(&mut conn, &identity.org_id, &ids).await?;
        // One query for the page's numbers on the campaign's do-not-call lists.
        let phones: Vec<&str> = known
            .values()
            .map(|c| c.fields.phones[0].as_str())
            .collect();
        let listed = do_not_call::lists_holding_any(
            &mut conn,
            &identity.org_id,
            &phones,
            &campaign.settings.do_not_call_lists,
        )
        .await?;
        let now = Utc::now();
        let mut statuses = Vec::with_capacity(page.len());
        for (seq, member, state) in page {
            let Some(contact) = known.remove(&member.contact_id) else {
                continue;
            };
            let do_not_call = do_not_call_given(&contact, &listed);
            let zones = contact.zones();
            let callee = Callee {
                do_not_call,
                zones: &zones,
            };
            let verdict = dialing::check(now, &callee, &state, &campaign.settings.window);
            let status = match (&verdict, state.done) {
                (_, Some(Final::Reached)) => "reached",
                (_, Some(Final::Exhausted { .. })) => "exhausted",
                (_, Some(Final::DoNotCall)) | (Err(Skip::DoNotCall(_)), _) => "do_not_call",
                (Err(Skip::Calling(_)), _) => "calling",
                (Err(_), _) => "waiting",
                (Ok(()), _) => "dialable",
            };
            statuses.push((
                seq,
                ContactStatus {
                    member,
                    contact,
                    state,
                    status,
                    reason: verdict.err().map(|skip| skip.to_string()),
                },
            ));
        }
        Ok(statuses)
    }

    pub async fn upsert_contact(
        &self,
        identity: &Identity,
        fields: ContactFields,
    ) -> Result<(Versioned<Contact>, Upserted), ApiError> {
        in_transaction!(self.store, |tx| {
            Ok(contacts::upsert(
                tx,
                &identity.org_id,
                &identity.user_id,
                fields.clone(),
                Utc::now(),
            )
            .await?)
        })
    }

    pub async fn get_contact(&self, identity: &Identity, id: Uuid) -> Result<Contact, ApiError> {
        Ok(
            contacts::get(&mut *self.conn().await?, &identity.org_id, id)
                .await?
                .value,
        )
    }

    pub async fn list_contacts(
        &self,
        identity: &Identity,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Contact>, ApiError> {
        Ok(contacts::list(&mut *self.conn().await?, &identity.org_id, after, limit).await?)
    }

    /// Imports `rows`: each valid row creates or updates its contact (and joins `campaign`, when
    /// given); each invalid one is reported with its problems. The campaign is checked first, so
    /// an import into a campaign that does not exist imports nothing.
    pub async fn import(
        &self,
        identity: &Identity,
        rows: Vec<ImportRow>,
        campaign: Option<(Uuid, i32)>,
    ) -> Result<ImportReport, ApiError> {
        if let Some((id, _)) = campaign {
            self.get(identity, id).await?;
        }
        let mut report = ImportReport {
            rows: rows.len() as u32,
            ..ImportReport::default()
        };
        let mut valid = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            match row.and_then(|fields| {
                crate::domain::contact::validate(&fields)
                    .map(|()| fields)
                    .map_err(|e| vec![crate::domain::field_problem(&e)])
            }) {
                Ok(fields) => valid.push(fields),
                Err(problems) => report.rejected.push((index as u32 + 1, problems)),
            }
        }
        for batch in valid.chunks(IMPORT_BATCH) {
            let (created, updated, unchanged, added) = in_transaction!(self.store, |tx| {
                let mut counts = (0, 0, 0, 0);
                let mut ids = Vec::with_capacity(batch.len());
                for fields in batch {
                    let (contact, upserted) = contacts::upsert(
                        &mut *tx,
                        &identity.org_id,
                        &identity.user_id,
                        fields.clone(),
                        Utc::now(),
                    )
                    .await?;
                    match upserted {
                        Upserted::Created => counts.0 += 1,
                        Upserted::Updated => counts.1 += 1,
                        Upserted::Unchanged => counts.2 += 1,
                    }
                    ids.push(contact.value.id);
                }
                if let Some((campaign_id, priority)) = campaign {
                    let new = campaigns::not_yet_members(&mut *tx, campaign_id, &ids).await?;
                    let command = Command::AddContacts {
                        contacts: members(&new, priority),
                        at: Utc::now(),
                        task_id: None,
                    };
                    campaigns::change(
                        tx,
                        &identity.org_id,
                        &identity.user_id,
                        campaign_id,
                        command,
                    )
                    .await?;
                    counts.3 = new.len() as i64;
                }
                Ok(counts)
            })?;
            report.created += created;
            report.updated += updated;
            report.unchanged += unchanged;
            report.added_to_campaign += added as u32;
        }
        Ok(report)
    }

    pub async fn change_do_not_call(
        &self,
        identity: &Identity,
        list: &str,
        numbers: &[PhoneNumber],
        add: bool,
    ) -> Result<u64, ApiError> {
        crate::domain::do_not_call::check_list_name(list)
            .map_err(|e| ApiError::invalid("list", e.to_string()))?;
        in_transaction!(self.store, |tx| {
            let (org, actor, at) = (&identity.org_id, &identity.user_id, Utc::now());
            let changed = if add {
                do_not_call::add(tx, org, actor, list, numbers, at).await?
            } else {
                do_not_call::remove(tx, org, actor, list, numbers, at).await?
            };
            Ok(changed)
        })
    }

    /// A page of the list's numbers after `after` (at most `limit`); a list never used is empty.
    pub async fn do_not_call_numbers(
        &self,
        identity: &Identity,
        list: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, DateTime<Utc>)>, ApiError> {
        crate::domain::do_not_call::check_list_name(list)
            .map_err(|e| ApiError::invalid("list", e.to_string()))?;
        let mut conn = self.conn().await?;
        Ok(do_not_call::numbers(&mut conn, &identity.org_id, list, after, limit).await?)
    }
}

fn members(ids: &[Uuid], priority: i32) -> Vec<Member> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(**id))
        .map(|&contact_id| Member {
            contact_id,
            priority,
        })
        .collect()
}

/// Why `contact` must never be called by a campaign honouring `lists`, if so.
pub async fn do_not_call_reason(
    conn: &mut PgConnection,
    org: &str,
    contact: &Contact,
    lists: &[String],
) -> Result<Option<String>, ApiError> {
    if let Some(own) = contact.own_do_not_call() {
        return Ok(Some(own));
    }
    let holding = do_not_call::lists_holding(conn, org, &contact.fields.phones[0], lists).await?;
    Ok(holding.first().map(|list| listed(contact, list)))
}

/// The reason for a contact whose number is on do-not-call `list`.
fn listed(contact: &Contact, list: &str) -> String {
    let number = &contact.fields.phones[0];
    if list == do_not_call::OPTED_OUT {
        format!("{number} opted out by text (replied STOP): on the do-not-call list {list:?}")
    } else {
        format!("{number} is on the do-not-call list {list:?}")
    }
}

/// [`do_not_call_reason`] when the lists holding each number were read already (`listed`:
/// number → list, from `do_not_call::lists_holding_any`).
pub fn do_not_call_given(
    contact: &Contact,
    listed: &std::collections::HashMap<String, String>,
) -> Option<String> {
    contact.own_do_not_call().or_else(|| {
        let list = listed.get(contact.fields.phones[0].as_str())?;
        Some(self::listed(contact, list))
    })
}
