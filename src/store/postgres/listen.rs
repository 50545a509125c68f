//! Hearing other instances' run events: one connection LISTENs on [`CHANNEL`], where
//! each run-event commit NOTIFYs the runs it moved (`run_events.rs`). A notification
//! only says "read again": readers re-read timelines from the tables, so one that is
//! lost (a dropped connection) delays an event, never loses it.

use crate::store::{RunWake, RunWakeFn};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

pub(super) const CHANNEL: &str = "hookgate_run_events";

/// Waits between connection attempts, doubling up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) async fn listen(
    config: tokio_postgres::Config,
    wake: RunWakeFn,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    while !stop.is_cancelled() {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                backoff = Duration::from_millis(100);
                let heard = wake.clone();
                // Polling the connection's messages is also what drives it.
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(note)) => {
                                heard(RunWake::parse(note.payload()));
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "run event listener connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        // Anything committed while nobody listened: read everything again.
                        wake(RunWake::All);
                        tokio::select! {
                            _ = driver => {}
                            () = stop.cancelled() => return,
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot LISTEN for run events");
                        driver.abort();
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "run event listener cannot connect"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
