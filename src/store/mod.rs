//! The store seam: everything hookgate keeps durably, as domain operations.
//!
//! Two backends implement [`Store`]: PostgreSQL for production (many instances) and an
//! embedded SQLite file for single-node use. Both pass the same conformance suite
//! (`tests/it/store_conformance/`). Each operation that changes state and must be
//! audited takes its [`AuditEntry`] and writes it in the same transaction.
//!
//! The trait is split by concept ([`OrgStore`], [`SourceStore`], [`SecretStore`],
//! [`IngressStore`], [`EventLogStore`], [`RunStore`], [`EndpointStore`],
//! [`DeliveryStore`]); each backend
//! implements each part in a file named after it.

mod embedded;
mod model;
mod postgres;

pub use embedded::EmbeddedStore;
pub use model::{
    activity_bucket, endpoint_health, last_uses, AcceptOutcome, ActivityCount, ActivityTotal,
    ApiKey, Attempt, AttemptRecord, AuditAction, AuditEntry, CancelOutcome, CancelRequest,
    ClaimLimits, ConsoleSession, Delivery, DeliveryFilter, DeliveryStatus, DueDelivery, Endpoint,
    EndpointHealth, EventDisposition, EventWrite, HandOff, Idempotency, IngressEvent,
    IngressEventFilter, IngressEventRecord, NewEvent, NewRun, Org, OrgSlug, OutboxItem,
    OutboxStats, Page, PageRequest, RecordedRunEvent, RecordedRunEvents, Rejected, Reseal,
    ResealBatch, Rotation, Run, RunEvent, RunEventSummary, RunEventWrite, RunFilter, RunStatus,
    RunWake, RunWakeFn, Scope, SealedCount, SealedSecret, SessionHolder, Source, SourcePatch,
    StoredSecret, TimelineEvent, TriggerOutcome, ACTIVITY_BUCKET, CONSOLE_SESSION_IDLE,
};
pub use postgres::{migrate as migrate_postgres, PostgresStore};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or failed; callers answer 503 and retry later.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// A uniqueness rule was violated; the payload names what conflicted.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The backend cannot hold a value of this item (e.g. NUL in PostgreSQL text, or
    /// a key too long for its index): the item is refused alone, with a 422 naming the
    /// field when it is known. Input is checked before it reaches the store
    /// (`crate::storable`), so this is the backstop, not the rule.
    #[error("the store cannot hold the value of {0}")]
    Refused(String),
    /// A row could not be decoded: a bug or manual tampering, never user input.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the failure is about what an item holds rather than about the store
    /// being reachable: the same items split apart may commit (group commits isolate
    /// the bad one instead of failing every request with it).
    pub fn is_about_an_item(&self) -> bool {
        matches!(
            self,
            StoreError::Refused(_) | StoreError::Conflict(_) | StoreError::Corrupt(_)
        )
    }
}

/// Everything durable, as one object: the union of the per-concept traits below.
#[async_trait]
pub trait Store:
    OrgStore
    + SourceStore
    + SecretStore
    + IngressStore
    + EventLogStore
    + RunStore
    + EndpointStore
    + DeliveryStore
    + ConsoleSessionStore
    + ActivityStore
    + Send
    + Sync
    + 'static
{
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Until `stop`, tells `wake` of run events other instances commit (PostgreSQL:
    /// LISTEN/NOTIFY, reconnecting as needed; then every run is woken, as some news
    /// may have been missed). Embedded mode is one process: nothing to hear.
    async fn listen_run_events(&self, wake: RunWakeFn, stop: tokio_util::sync::CancellationToken);
}

/// Orgs, API keys and the audit log.
#[async_trait]
pub trait OrgStore {
    async fn create_org(&self, org: &Org, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn find_org(&self, slug: &OrgSlug) -> Result<Option<Org>, StoreError>;
    /// Every org, by slug (alphabetical, unlike the id-ordered lists: slugs carry no
    /// time); the page's cursor is the last slug of the previous page.
    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>, StoreError>;

    async fn insert_api_key(
        &self,
        key: &ApiKey,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The key whose token hashes to `token_hash`, revoked or not.
    async fn find_api_key_by_hash(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;
    /// Marks the key revoked at `at`; false when it was already revoked or is unknown.
    async fn revoke_api_key(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    async fn list_audit(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

/// Outcomes per source and endpoint in five-minute buckets (the console's overview).
#[async_trait]
pub trait ActivityStore {
    /// Adds each count to its bucket (instances add up; nothing is overwritten).
    async fn add_activity(&self, counts: &[ActivityCount]) -> Result<(), StoreError>;
    /// The outcomes of `orgs`' subjects in buckets starting at or after `since`.
    async fn activity_since(
        &self,
        orgs: &[OrgSlug],
        since: DateTime<Utc>,
    ) -> Result<Vec<ActivityTotal>, StoreError>;
    /// Deletes buckets that start before `before`; returns how many rows.
    async fn prune_activity(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Console sign-ins (SPEC §13), looked up by the hash of their cookie.
#[async_trait]
pub trait ConsoleSessionStore {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<(), StoreError>;
    async fn find_console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError>;
    /// Moves `last_seen_at` forward (the idle clock).
    async fn touch_console_session(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Ends the session; false when there was none.
    async fn delete_console_session(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Deletes sessions idle since before `idle_since`; returns how many.
    async fn delete_idle_console_sessions(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Sources: the receiving side's configuration.
#[async_trait]
pub trait SourceStore {
    async fn create_source(
        &self,
        source: &Source,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// A source that has not been deleted.
    async fn find_source(&self, id: &str) -> Result<Option<Source>, StoreError>;
    async fn list_sources(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Source>, StoreError>;
    /// Saves the changed fields; false when the source is gone.
    async fn update_source(&self, source: &Source, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Deletes (tombstones) the source; its events and runs stay readable.
    async fn delete_source(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}

/// The secrets of sources and endpoints, with rotation.
#[async_trait]
pub trait SecretStore {
    /// Every secret of the owner, newest first, expired ones included.
    async fn list_secrets(&self, owner_id: &str) -> Result<Vec<StoredSecret>, StoreError>;
    /// Adds the new current secret and caps the expiry of the owner's active ones at
    /// `previous_expire_at`; returns those previous secrets as they are now.
    async fn rotate_secret(
        &self,
        rotation: &Rotation,
        audit: &AuditEntry,
    ) -> Result<Vec<StoredSecret>, StoreError>;
    /// Expires the secret at `at` (compromise); false if unknown or already expired.
    async fn expire_secret(
        &self,
        owner_id: &str,
        secret_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// The secrets of these endpoints (expired ones too), each endpoint's newest first:
    /// one read for a whole claimed batch instead of one per attempt.
    async fn endpoint_secrets(
        &self,
        endpoint_ids: &[String],
    ) -> Result<Vec<StoredSecret>, StoreError>;

    /// How many secrets, expired ones included, each master key id seals: one
    /// GROUP BY over the key-id part of the sealed values (SPEC §15).
    async fn count_sealed_by_key(&self) -> Result<Vec<SealedCount>, StoreError>;
    /// Up to `limit` secrets with an id after `after`, in id order, whose sealed value
    /// is not under `key_id` (expired ones included), each with its owner's org.
    async fn sealed_elsewhere(
        &self,
        key_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedSecret>, StoreError>;
    /// In one transaction: each item's new sealed value, written only where the stored
    /// value is still the item's `old`, and the batch's audit entries for the secrets
    /// written. Returns their ids.
    async fn reseal_secrets(&self, batch: &ResealBatch) -> Result<Vec<String>, StoreError>;
}

/// Inbound events, the runs they create (with their outbox rows) and rejections.
#[async_trait]
pub trait IngressStore {
    /// Group commit: in ONE transaction, for each row claims the event's de-dup key (or
    /// reports the duplicate), records the event, its run and outbox row; and moves the
    /// secrets' last use. Outcomes are in the batch's order. If the transaction fails,
    /// nothing of the batch is recorded. The new outbox rows are claimed until
    /// `claim_until` (the caller hands their runs to its relay itself), or unclaimed.
    async fn record_events(
        &self,
        batch: &[EventWrite],
        claim_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<AcceptOutcome>, StoreError>;

    /// Adds a sampled rejection and keeps only the newest `keep` of its source.
    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError>;
    async fn list_rejections(
        &self,
        source_id: &str,
        limit: usize,
    ) -> Result<Vec<Rejected>, StoreError>;
}

/// The ingress event log read back (SPEC §11): lists, one event with its payload, its
/// lineage, and the payload retention.
#[async_trait]
pub trait EventLogStore {
    /// The org's events (or one source's, by `filter.source_id`), newest first.
    async fn list_ingress_events(
        &self,
        org: &OrgSlug,
        filter: &IngressEventFilter,
        page: &PageRequest,
    ) -> Result<Page<IngressEvent>, StoreError>;
    async fn find_ingress_event(&self, id: &str) -> Result<Option<IngressEventRecord>, StoreError>;
    /// The run events of a run, in order, and the deliveries they made.
    async fn run_lineage(
        &self,
        org: &OrgSlug,
        run_id: &str,
    ) -> Result<(Vec<RunEventSummary>, Vec<Delivery>), StoreError>;
    /// Drops the bodies of the oldest `limit` events after id `after` received before
    /// `before` (their rows stay listed); returns the last id it expired, from which
    /// the next call goes on, or `None` when none was due. Bodies a waiting outbox
    /// message still needs are kept.
    async fn expire_event_bodies(
        &self,
        after: Option<&str>,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<String>, StoreError>;
    /// A run's timeline after `after_seq`, in order, at most `limit` events.
    async fn run_timeline(
        &self,
        org: &OrgSlug,
        run_id: &str,
        after_seq: u32,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError>;
    /// How many enabled sources are quiet at `now` (see `Source::is_quiet`).
    async fn count_quiet_sources(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// When each of these sources last received an event, for those that ever did.
    async fn last_event_at(
        &self,
        source_ids: &[String],
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError>;
}

/// Runs: the trigger API, reads, and the outbox the relay drains (SPEC §4).
#[async_trait]
pub trait RunStore {
    /// Creates the run and its outbox row, unless `idempotency` names a key this org
    /// already used (then the earlier run, or `KeyReused` for another body).
    async fn trigger_run(
        &self,
        run: &NewRun,
        idempotency: Option<&Idempotency>,
    ) -> Result<TriggerOutcome, StoreError>;
    /// Creates the run and its outbox row with an audit entry, in one transaction (a
    /// replay, which someone asked for).
    async fn create_run_audited(&self, run: &NewRun, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn find_run(&self, id: &str) -> Result<Option<Run>, StoreError>;
    /// The input a run keeps itself (API-triggered runs and retries), if any.
    async fn run_input(&self, id: &str) -> Result<Option<bytes::Bytes>, StoreError>;
    /// Marks the run's cancel as requested and puts its message in the outbox, in one
    /// transaction, unless it was requested before or the run has ended.
    async fn request_cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, StoreError>;
    async fn list_runs(
        &self,
        org: &OrgSlug,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Page<Run>, StoreError>;

    /// Claims up to `limit` unclaimed (or expired-claim) outbox rows, oldest first,
    /// until `lease_until`; concurrent claimers never get the same row.
    async fn claim_outbox(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError>;
    /// Confirmed by the broker: removes the outbox rows, marks the runs published.
    async fn mark_published(&self, run_ids: &[String], at: DateTime<Utc>)
        -> Result<(), StoreError>;
    /// Not confirmed: releases the claims so the next attempt can take them.
    async fn release_claims(&self, run_ids: &[String]) -> Result<(), StoreError>;
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
    /// Housekeeping the relay runs every few seconds: the outbox is a queue table
    /// (rows live for milliseconds), and with `refresh_statistics` the hot tables'
    /// planner statistics too. No-op where the backend needs none.
    async fn maintain_outbox(&self, _refresh_statistics: bool) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Endpoints: where run events are delivered, and their on/off state (SPEC §6).
#[async_trait]
pub trait EndpointStore {
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// An endpoint that has not been deleted.
    async fn find_endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    async fn list_endpoints(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError>;
    /// Saves the changed fields; false when the endpoint is gone.
    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    async fn delete_endpoint(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Disables the endpoint (410 or failing for too long); false if already disabled.
    async fn disable_endpoint(
        &self,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The ids of the org's disabled endpoints (by hand or by hookgate), whose waiting
    /// deliveries show as `disabled`.
    async fn disabled_endpoint_ids(&self, org: &OrgSlug) -> Result<Vec<String>, StoreError>;
}

/// Run events and their deliveries and attempts (SPEC §6).
#[async_trait]
pub trait DeliveryStore {
    /// Group commit of run events: in ONE transaction, for each event in the batch's
    /// order, records it (idempotent on its id within the org), creates one pending
    /// delivery per matching enabled endpoint, and moves the run's status for `run.*`
    /// events. Answers are exactly those of calling it once per event in order: an id
    /// already recorded, or earlier in the batch, answers `new: false` with no
    /// deliveries, and a run's status ends as its last new event set it. If the
    /// transaction fails, nothing of the batch is recorded.
    async fn record_run_events(
        &self,
        batch: &[RunEventWrite],
    ) -> Result<Vec<RecordedRunEvent>, StoreError> {
        Ok(self.record_and_claim_run_events(batch, None).await?.events)
    }

    /// [`Self::record_run_events`], writing the new deliveries `hand_off` admits (in
    /// the batch's order) already claimed until its lease, and answering them ready to
    /// send: the caller's delivery workers start them without a claim. The others stay
    /// pending for any instance's claim.
    async fn record_and_claim_run_events(
        &self,
        batch: &[RunEventWrite],
        hand_off: Option<&HandOff>,
    ) -> Result<RecordedRunEvents, StoreError>;

    /// A batch of one. `only_endpoint` (an endpoint's test event) delivers to that
    /// endpoint alone, whatever its filters.
    async fn record_run_event(
        &self,
        event: &RunEvent,
        only_endpoint: Option<&str>,
    ) -> Result<RecordedRunEvent, StoreError> {
        let batch = [RunEventWrite {
            event: event.clone(),
            only_endpoint: only_endpoint.map(str::to_owned),
        }];
        let mut recorded = self.record_run_events(&batch).await?;
        recorded
            .pop()
            .ok_or_else(|| StoreError::Corrupt("empty batch outcome".into()))
    }

    /// Claims pending deliveries of enabled endpoints due at `now` until `lease_until`,
    /// oldest first, within `limits` (in total and per endpoint); concurrent claimers
    /// never get the same delivery.
    async fn claim_due_deliveries(
        &self,
        limits: &ClaimLimits,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Writes attempts and their deliveries' new state, in one transaction. Each
    /// endpoint's `failing_since` ends as if the records were applied in order.
    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError>;

    async fn find_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError>;
    async fn list_attempts(&self, delivery_id: &str) -> Result<Vec<Attempt>, StoreError>;
    async fn list_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Makes matching deliveries pending and due at `now`; delivered ones are skipped
    /// unless `delivery_id` names one (a deliberate resend). Returns how many.
    async fn retry_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        delivery_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Puts claimed deliveries back, each due at its own time, without an attempt
    /// (circuit open, rate limit, endpoint busy); one statement for the whole list.
    async fn defer_deliveries(
        &self,
        deferrals: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError>;
    /// Drops response bodies of attempts older than `before` (retention).
    async fn purge_attempt_bodies(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Housekeeping the dispatcher runs every two seconds: planner statistics of the
    /// delivery tables refreshed once they are stale, and with `vacuum` the dead row
    /// versions that every claim and attempt leave cleared. No-op where the backend
    /// needs none.
    async fn maintain_deliveries(&self, _vacuum: bool) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How often at most a secret's `last_used_at` is written: it answers "have senders
/// switched?", which needs minutes, not every request.
pub const LAST_USED_GRANULARITY: chrono::Duration = chrono::Duration::seconds(10);

/// Parses stored scope names; an unknown name means the row is corrupt.
fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, StoreError> {
    names
        .iter()
        .map(|name| name.parse().map_err(StoreError::Corrupt))
        .collect()
}

fn parse_slug(value: &str) -> Result<OrgSlug, StoreError> {
    OrgSlug::parse(value).map_err(|e| StoreError::Corrupt(format!("org slug {value:?}: {e}")))
}
