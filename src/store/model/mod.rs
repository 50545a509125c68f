//! Records the store keeps. Plain data; validation of user input happens in the
//! constructors and handlers so that nothing invalid reaches a backend.

mod activity;
mod console;
mod core;
mod delivery;
mod event_log;
mod ingress;
mod reseal;
mod run;
mod scope;
mod secret;
mod source;

pub use self::core::{ApiKey, AuditAction, AuditEntry, Org, OrgSlug, Page, PageRequest};
pub use activity::{activity_bucket, ActivityCount, ActivityTotal, ACTIVITY_BUCKET};
pub use console::{ConsoleSession, SessionHolder, CONSOLE_SESSION_IDLE};
pub use delivery::{
    endpoint_health, Attempt, AttemptRecord, ClaimLimits, Delivery, DeliveryFilter, DeliveryStatus,
    DueDelivery, Endpoint, EndpointHealth, HandOff, RecordedRunEvent, RecordedRunEvents, RunEvent,
    RunEventWrite,
};
pub use event_log::{
    IngressEvent, IngressEventFilter, IngressEventRecord, RunEventSummary, RunWake, RunWakeFn,
    TimelineEvent,
};
pub use ingress::{last_uses, AcceptOutcome, EventDisposition, EventWrite, NewEvent, Rejected};
pub use reseal::{Reseal, ResealBatch, SealedCount, SealedSecret};
pub use run::{
    CancelOutcome, CancelRequest, Idempotency, NewRun, OutboxItem, OutboxStats, Run, RunFilter,
    RunStatus, TriggerOutcome,
};
pub use scope::Scope;
pub use secret::{Rotation, StoredSecret};
pub use source::{Source, SourcePatch};
