//! A run's timeline (SPEC §12): its events in `seq` order, as JSON pages or, asked
//! with `Accept: text/event-stream`, as a Server-Sent Events stream that replays from
//! `Last-Event-ID` (or `?after=`) and then follows live events from any instance.
//!
//! The stream holds no queue of its own: it reads the next events from the store when
//! the client has taken the previous ones, so a slow reader costs a page of events at
//! most, and a reader that comes back later resumes by seq with no gap and no repeat.

use super::error::ApiError;
use super::extract::ApiQuery;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::runs::RunWatch;
use crate::store::{OrgSlug, RunStatus, Store, TimelineEvent};
use axum::extract::{Path, State};
use axum::http::header::ACCEPT;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_events))
}

/// Events read from the store at a time, for a page or a stream.
const PAGE: usize = 100;
/// A stream re-reads this often even without news, so a lost notification delays an
/// event by this much at most.
const POLL: Duration = Duration::from_secs(2);
/// A comment line at least this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Serialize, utoipa::ToSchema)]
pub struct TimelineEventView {
    seq: u32,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(serialize_with = "super::timestamp::micros")]
    occurred_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

impl From<TimelineEvent> for TimelineEventView {
    fn from(event: TimelineEvent) -> Self {
        Self {
            seq: event.seq,
            event_id: event.event_id,
            event_type: event.event_type,
            occurred_at: event.occurred_at,
            data: event.data,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Timeline {
    data: Vec<TimelineEventView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    /// Only events after this seq (also `Last-Event-ID` on a stream).
    after: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

/// The seq a cursor stands for: cursors are opaque to clients, base64url of the seq.
fn cursor_seq(cursor: &str) -> Result<u32, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::validation("cursor", "not a cursor from this API"))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| ApiError::validation("Last-Event-ID", "must be a seq"))
        })
        .transpose()
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// A run's events in order (`run:read`). With `Accept: text/event-stream`: a stream of
/// them, past then live, resuming after `Last-Event-ID`, ending after the terminal event.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path), TimelineParams,
           ("Last-Event-ID" = Option<String>, Header, description = "resume a stream after this seq")),
    responses(
        (status = 200, body = Timeline, description = "a page of the timeline; with Accept: text/event-stream, the live stream (`id: <seq>`, `event: <type>`, `data: <the event as JSON>`)",
         content((Timeline = "application/json"), (String = "text/event-stream"))),
    ))]
async fn run_events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<TimelineParams>,
) -> Result<Response, ApiError> {
    let run = state
        .store()
        .find_run(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&run.org, Scope::RunRead)?;
    let after = match (&params.cursor, last_event_id(&headers)?) {
        (Some(cursor), _) => cursor_seq(cursor)?,
        (None, Some(seq)) => seq,
        (None, None) => params.after.unwrap_or(0),
    };
    if wants_stream(&headers) {
        return Ok(live_stream(&state, run, after, true));
    }
    let limit = params.limit.unwrap_or(PAGE);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "must be 1 to 200"));
    }
    let mut events = state
        .store()
        .run_timeline(&run.org, &run.id, after, limit + 1)
        .await?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_cursor = more
        .then(|| {
            events
                .last()
                .map(|e| URL_SAFE_NO_PAD.encode(e.seq.to_string()))
        })
        .flatten();
    Ok(Json(Timeline {
        data: events.into_iter().map(Into::into).collect(),
        next_cursor,
    })
    .into_response())
}

/// The run's timeline after seq `after` as Server-Sent Events, past events first, then
/// live ones; the REST API and the console's run page both serve this. With
/// `named_events` each carries its type as the SSE `event:` (the REST API's stream);
/// without, every event is a plain message, which a browser's `EventSource` hands to
/// one handler whatever the type (the scheduler's types are open-ended).
pub(super) fn live_stream(
    state: &AppState,
    run: crate::store::Run,
    after: u32,
    named_events: bool,
) -> Response {
    let watch = state.run_wakes().watch(run.org.as_str(), &run.id);
    let stream = TimelineStream {
        store: Arc::clone(&state.inner.store),
        org: run.org,
        run_id: run.id,
        after,
        pending: VecDeque::new(),
        watch,
        ended: false,
        named_events,
        read_now: true,
        check_end: true,
    };
    Sse::new(stream.into_stream())
        .keep_alive(KeepAlive::new().interval(HEARTBEAT))
        .into_response()
}

/// One reader's place in a run's timeline.
struct TimelineStream {
    store: Arc<dyn Store>,
    org: OrgSlug,
    run_id: String,
    /// The last seq sent.
    after: u32,
    /// Read from the store, not yet taken by the client (one page at most).
    pending: VecDeque<TimelineEvent>,
    watch: RunWatch,
    ended: bool,
    /// Send each event's type as its SSE `event:` name.
    named_events: bool,
    /// Whether the store may hold events not read yet (see [`TimelineStream::next`]).
    read_now: bool,
    /// Whether an empty read should ask if the run has ended.
    check_end: bool,
}

impl TimelineStream {
    fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>> + Send {
        futures_util::stream::unfold(self, |mut reader| async move {
            let event = reader.next().await?;
            Some((Ok(event), reader))
        })
    }

    /// The next event to send, waiting for one; `None` ends the stream.
    ///
    /// The store is read again only when a wake or the poll timer says so: a page
    /// shorter than [`PAGE`] held everything committed when it was read, and a commit
    /// after that has woken the watch (which keeps the wake until it is awaited). Reading
    /// once more after every page, and asking for the run's status after every empty
    /// read, made three queries of every wake where one does; with 1,000 live readers
    /// those queries held back the run-event intake's commits (BENCHMARKS.md).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.after = event.seq;
                // A run ends with run.completed, run.failed or run.cancelled.
                if RunStatus::after_event(&event.event_type).is_some_and(RunStatus::is_terminal) {
                    self.ended = true;
                    self.pending.clear();
                }
                return Some(sse_event(event, self.named_events));
            }
            if self.ended {
                return None;
            }
            if self.read_now {
                match self
                    .store
                    .run_timeline(&self.org, &self.run_id, self.after, PAGE)
                    .await
                {
                    Ok(events) => {
                        // A full page may have more behind it: read on once it is sent.
                        self.read_now = events.len() >= PAGE;
                        if !events.is_empty() {
                            self.pending.extend(events);
                            continue;
                        }
                    }
                    Err(error) => {
                        // The client resumes with Last-Event-ID once the store is back.
                        tracing::warn!(%error, run.id = %self.run_id, "run event stream cannot read");
                        return None;
                    }
                }
                // Nothing new: a reader that resumed after the terminal event, or whose
                // run ended some other way, has nothing more to wait for. Asked on the
                // first read and on the poll timer, not after every wake.
                if self.check_end && self.run_has_ended().await {
                    return None;
                }
            }
            tokio::select! {
                () = self.watch.moved() => {
                    self.check_end = false;
                }
                () = tokio::time::sleep(POLL) => {
                    self.check_end = true;
                }
            }
            self.read_now = true;
        }
    }

    /// A reader that resumes after the terminal event has nothing more to wait for.
    async fn run_has_ended(&self) -> bool {
        matches!(
            self.store.find_run(&self.run_id).await,
            Ok(Some(run)) if run.status.is_terminal()
        )
    }
}

fn sse_event(event: TimelineEvent, named: bool) -> Event {
    let (seq, event_type) = (event.seq, event.event_type.clone());
    let view = TimelineEventView::from(event);
    let data = serde_json::to_string(&view).unwrap_or_else(|_| "{}".to_owned());
    let sse = Event::default().id(seq.to_string()).data(data);
    if named {
        sse.event(event_type)
    } else {
        sse
    }
}
