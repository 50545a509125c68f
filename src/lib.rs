//! hookgate: webhook ingress and signed delivery gateway. See ARCHITECTURE.md.

pub mod auth;
pub mod backoff;
pub mod bootstrap;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod dispatch;
pub mod duration;
pub mod group_commit;
pub mod http;
pub mod id;
pub mod ingress;
pub mod metrics;
pub mod queue;
pub mod relay;
pub mod run_events;
pub mod runs;
pub mod secrets;
pub mod server;
pub mod storable;
pub mod store;
pub mod telemetry;
pub mod trace;
pub mod verify;
