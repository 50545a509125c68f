//! Runs in the console: an org's runs by status, and one run's timeline, live from the
//! same stream the REST API serves (§12), with cancel and retry through the REST API's
//! own operations.

use super::pages::{render, Chrome};
use super::see_other;
use super::session::ConsoleUser;
use super::session::CsrfForm;
use super::ConsoleError;
use crate::auth::Scope;
use crate::http::extract::{cursor, ListParams};
use crate::http::orgs::visible_org;
use crate::http::runs::{cancel, retry};
use crate::http::timeline::live_stream;
use crate::http::AppState;
use crate::store::{Run, RunFilter, RunStatus, TimelineEvent};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::Form;
use serde::Deserialize;

/// Timeline events a run page renders before the live stream takes over.
const TIMELINE_SHOWN: usize = 200;
const PAGE_ROWS: usize = 50;

#[derive(Template)]
#[template(path = "console/runs.html")]
struct RunsPage {
    chrome: Chrome,
    org: String,
    runs: Vec<Run>,
    status: String,
    statuses: &'static [&'static str],
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct RunsQuery {
    #[serde(default)]
    status: String,
    cursor: Option<String>,
}

const STATUSES: &[&str] = &[
    "queued",
    "published",
    "running",
    "completed",
    "failed",
    "cancelled",
];

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(&state, &user.principal, &org).await?;
    user.principal.allows(&org, Scope::RunRead)?;
    let filter = RunFilter {
        status: RunStatus::parse(&query.status),
        workflow_id: None,
    };
    let page = ListParams {
        limit: Some(PAGE_ROWS),
        cursor: query.cursor,
    }
    .page()?;
    let runs = state.store().list_runs(&org, &filter, &page).await?;
    let chrome = Chrome::of(&user);
    render(&RunsPage {
        chrome,
        org: org.as_str().to_owned(),
        runs: runs.items,
        status: filter
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        statuses: STATUSES,
        next: cursor(runs.next),
    })
}

#[derive(Template)]
#[template(path = "console/run.html")]
struct RunPage {
    chrome: Chrome,
    org: String,
    run: Run,
    timeline: Vec<TimelineEvent>,
    last_seq: u32,
    can_cancel: bool,
    can_retry: bool,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct RunQuery {
    done: Option<String>,
}

async fn visible_run(state: &AppState, user: &ConsoleUser, id: &str) -> Result<Run, ConsoleError> {
    let run = state
        .store()
        .find_run(id)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    user.principal.allows(&run.org, Scope::RunRead)?;
    Ok(run)
}

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<RunQuery>,
) -> Result<Html<String>, ConsoleError> {
    let run = visible_run(&state, &user, &id).await?;
    let timeline = state
        .store()
        .run_timeline(&run.org, &run.id, 0, TIMELINE_SHOWN)
        .await?;
    let last_seq = timeline.last().map_or(0, |event| event.seq);
    let chrome = Chrome::of(&user);
    render(&RunPage {
        chrome,
        org: run.org.as_str().to_owned(),
        can_cancel: user.principal.allows(&run.org, Scope::RunCancel).is_ok()
            && !run.status.is_terminal(),
        can_retry: user.principal.allows(&run.org, Scope::RunTrigger).is_ok()
            && matches!(run.status, RunStatus::Failed | RunStatus::Cancelled),
        notice: match query.done.as_deref() {
            Some("cancel") => {
                Some("Cancel requested: the scheduler has been asked to stop the run.")
            }
            _ => None,
        },
        run,
        timeline,
        last_seq,
    })
}

#[derive(Deserialize)]
pub struct StreamQuery {
    #[serde(default)]
    after: u32,
}

/// The run's live timeline for the page's script (an `EventSource` carries the session
/// cookie, not a bearer token).
pub async fn stream(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let run = visible_run(&state, &user, &id).await?;
    // A reconnecting EventSource says where it stopped.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(query.after);
    Ok(live_stream(&state, run, after, false))
}

pub async fn cancel_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let (_, run) = cancel(&state, &user.principal, &id, None).await?;
    let location = format!("/console/runs/{}?done=cancel", run.id);
    Ok(see_other(location))
}

pub async fn retry_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let retried = retry(&state, &user.principal, &id, None).await?;
    let location = format!("/console/runs/{}", retried.id);
    Ok(see_other(location))
}
