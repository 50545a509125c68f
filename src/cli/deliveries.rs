//! `hookgate deliveries …` over `/v1/orgs/{org}/deliveries` and `/v1/deliveries/{id}`
//! (SPEC §6, §7): what was sent to endpoints, every attempt, and retries by hand.

use super::since::{rfc3339, Since};
use super::table::{cell, count, time, Table};
use super::{next_page, wire, ApiArgs, Page};
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum DeliveriesCommand {
    /// List an org's deliveries, newest first.
    List {
        #[arg(long)]
        org: String,
        /// Only deliveries to this endpoint.
        #[arg(long, value_name = "ENDPOINT_ID")]
        endpoint: Option<String>,
        /// Only deliveries in this state.
        #[arg(long)]
        status: Option<Status>,
        /// Only deliveries of this event type, e.g. `run.completed`.
        #[arg(long, value_name = "TYPE")]
        event_type: Option<String>,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a delivery and every attempt: when, how long, the answer, the next try.
    Show {
        delivery_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send one delivery again now, whatever its state.
    Retry {
        delivery_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Retry an endpoint's failed deliveries created since a time, e.g. after an
    /// outage (the same as `hookgate endpoints recover`).
    Recover {
        #[arg(long, value_name = "ENDPOINT_ID")]
        endpoint: String,
        /// An RFC 3339 time, or a duration ago: `2h` means two hours before now.
        #[arg(long, value_parser = Since::parse, value_name = "TIME|DURATION")]
        since: Since,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Retry every delivery that matches (default: all of the org's failed ones).
    RetryAll {
        #[arg(long)]
        org: String,
        /// Only deliveries to this endpoint.
        #[arg(long, value_name = "ENDPOINT_ID")]
        endpoint: Option<String>,
        /// Which to retry (the API's default: failed).
        #[arg(long)]
        status: Option<RetryStatus>,
        /// Only deliveries of this event type.
        #[arg(long, value_name = "TYPE")]
        event_type: Option<String>,
        /// Only deliveries created since: an RFC 3339 time, or a duration ago (`2h`).
        #[arg(long, value_parser = Since::parse, value_name = "TIME|DURATION")]
        since: Option<Since>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// A delivery's state.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not tried yet.
    Pending,
    /// Tried, failed, another attempt scheduled.
    Retrying,
    Delivered,
    /// Its schedule ran out, or it was given up.
    Failed,
    /// Waiting on a disabled endpoint: tried again once the endpoint is enabled.
    Disabled,
}

/// The states a bulk retry takes: delivered ones are resent one by one (`retry`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryStatus {
    Failed,
    Retrying,
    Pending,
}

pub async fn run(command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::Recover {
            endpoint,
            since,
            api,
        } => {
            return super::endpoints::run(super::endpoints::EndpointsCommand::Recover {
                endpoint_id: endpoint,
                since,
                api,
            })
            .await;
        }
        DeliveriesCommand::List {
            org,
            endpoint,
            status,
            event_type,
            page,
            api,
        } => {
            let mut query = Vec::new();
            if let Some(endpoint) = endpoint {
                query.push(("endpoint_id", endpoint));
            }
            if let Some(status) = status {
                query.push(("status", wire(status)));
            }
            if let Some(event_type) = event_type {
                query.push(("event_type", event_type));
            }
            query.extend(page.query());
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "deliveries"], &query)
                .await?;
            api.print(&reply, delivery_table);
        }
        DeliveriesCommand::Show { delivery_id, api } => {
            let reply = api
                .client()?
                .get(&["v1", "deliveries", &delivery_id], &[])
                .await?;
            api.print(&reply, shown);
        }
        DeliveriesCommand::Retry { delivery_id, api } => {
            let reply = api
                .client()?
                .post(&["v1", "deliveries", &delivery_id, "retry"], &json!({}))
                .await?;
            api.print(&reply, |reply| match reply["retried"].as_u64() {
                Some(0) => format!("{delivery_id} was not retried\n"),
                _ => format!("queued {delivery_id} for another attempt now\n"),
            });
        }
        DeliveriesCommand::RetryAll {
            org,
            endpoint,
            status,
            event_type,
            since,
            api,
        } => {
            let mut filter = json!({});
            if let Some(endpoint) = endpoint {
                filter["endpoint_id"] = json!(endpoint);
            }
            if let Some(status) = status {
                filter["status"] = json!(wire(status));
            }
            if let Some(event_type) = event_type {
                filter["event_type"] = json!(event_type);
            }
            if let Some(since) = since {
                filter["since"] = json!(rfc3339(since.resolve(chrono::Utc::now())));
            }
            let reply = api
                .client()?
                .post(&["v1", "orgs", &org, "deliveries", "retry"], &filter)
                .await?;
            api.print(&reply, |reply| {
                format!(
                    "queued {} for another attempt now\n",
                    count(&reply["retried"], "delivery", "deliveries")
                )
            });
        }
    }
    Ok(())
}

fn delivery_table(list: &Value) -> String {
    let mut table = Table::new([
        "ID",
        "EVENT TYPE",
        "ENDPOINT",
        "STATUS",
        "ATTEMPTS",
        "LAST ATTEMPT",
        "LAST STATUS",
        "LAST ERROR",
        "NEXT ATTEMPT",
        "CREATED",
    ]);
    for delivery in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&delivery["id"]),
            cell(&delivery["event_type"]),
            cell(&delivery["endpoint_id"]),
            cell(&delivery["status"]),
            cell(&delivery["attempts"]),
            time(&delivery["last_attempt_at"]),
            cell(&delivery["last_status"]),
            cell(&delivery["last_error"]),
            time(&delivery["next_attempt_at"]),
            time(&delivery["created_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}

fn shown(delivery: &Value) -> String {
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&delivery["id"])])
        .row(["event", &cell(&delivery["event_id"])])
        .row(["event type", &cell(&delivery["event_type"])])
        .row(["endpoint", &cell(&delivery["endpoint_id"])])
        .row(["status", &cell(&delivery["status"])])
        .row(["last attempt", &time(&delivery["last_attempt_at"])])
        .row(["next attempt", &time(&delivery["next_attempt_at"])])
        .row(["created", &time(&delivery["created_at"])])
        .row(["updated", &time(&delivery["updated_at"])]);
    format!("{fields}\n{}", attempt_table(&delivery["attempts"]))
}

/// One row per attempt, in the order made. The status is the receiver's HTTP answer;
/// the error is hookgate's class for a failure (`http_status`, `timeout`, `connect`, …).
fn attempt_table(attempts: &Value) -> Table {
    let mut table = Table::new([
        "ATTEMPT",
        "STARTED",
        "DURATION MS",
        "STATUS",
        "ERROR",
        "NEXT ATTEMPT",
    ]);
    for attempt in attempts.as_array().into_iter().flatten() {
        table.row([
            cell(&attempt["attempt"]),
            time(&attempt["started_at"]),
            cell(&attempt["duration_ms"]),
            cell(&attempt["response_status"]),
            cell(&attempt["error"]),
            time(&attempt["next_attempt_at"]),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sent_as_the_api_spells_them() {
        assert_eq!(wire(Status::Pending), "pending");
        assert_eq!(wire(Status::Delivered), "delivered");
        assert_eq!(wire(RetryStatus::Failed), "failed");
    }

    #[test]
    fn bulk_retry_refuses_delivered_before_any_request() {
        let argv = [
            "hookgate",
            "deliveries",
            "retry-all",
            "--org",
            "acme",
            "--status",
            "delivered",
        ];
        assert!(<crate::cli::Cli as clap::Parser>::try_parse_from(argv).is_err());
    }

    #[test]
    fn delivery_show_lists_each_attempt_with_status_error_and_next_try() {
        let delivery = json!({
            "id": "dlv_1", "event_id": "evt_1", "event_type": "run.completed",
            "endpoint_id": "ep_1", "status": "delivered", "attempts": [
                {"attempt": 1, "started_at": "2024-05-01T12:00:00.100Z", "duration_ms": 12,
                 "response_status": 503, "error": "http_status",
                 "next_attempt_at": "2024-05-01T12:00:05Z"},
                {"attempt": 2, "started_at": "2024-05-01T12:00:05.200Z", "duration_ms": 3,
                 "response_status": 200, "error": null, "next_attempt_at": null},
                {"attempt": 3, "started_at": "2024-05-01T12:10:00Z", "duration_ms": 15000,
                 "response_status": null, "error": "timeout", "next_attempt_at": null}
            ],
            "next_attempt_at": null, "created_at": "2024-05-01T12:00:00Z",
            "updated_at": "2024-05-01T12:10:15Z"
        });
        let text = shown(&delivery);
        let attempts = text
            .split_once("\n\n")
            .map(|(_, table)| table)
            .unwrap_or_else(|| panic!("no attempt table:\n{text}"));
        assert_eq!(
            attempts,
            "ATTEMPT  STARTED               DURATION MS  STATUS  ERROR        NEXT ATTEMPT\n\
             1        2024-05-01 12:00:00Z  12           503     http_status  2024-05-01 12:00:05Z\n\
             2        2024-05-01 12:00:05Z  3            200     -            -\n\
             3        2024-05-01 12:10:00Z  15000        -       timeout      -\n"
        );
        assert!(text.starts_with("id            dlv_1\n"), "{text}");
    }

    #[test]
    fn delivery_list_shows_the_last_answer_and_the_next_try() {
        let list = json!({"data": [{
            "id": "dlv_1", "event_type": "run.failed", "endpoint_id": "ep_1",
            "status": "retrying", "attempts": 1, "last_status": 503, "last_error": "http_status",
            "last_attempt_at": "2024-05-01T12:00:00.250000Z",
            "next_attempt_at": "2024-05-01T12:00:05Z", "created_at": "2024-05-01T12:00:00Z"
        }], "next_cursor": "c2"});
        assert_eq!(
            delivery_table(&list),
            "ID     EVENT TYPE  ENDPOINT  STATUS    ATTEMPTS  LAST ATTEMPT          LAST STATUS  LAST ERROR   NEXT ATTEMPT          CREATED\n\
             dlv_1  run.failed  ep_1      retrying  1         2024-05-01 12:00:00Z  503          http_status  2024-05-01 12:00:05Z  2024-05-01 12:00:00Z\n\
             (more: --cursor c2)\n"
        );
    }
}
