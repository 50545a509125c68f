//! The overview (SPEC §13): per org, each source's outcomes and each endpoint's
//! delivery attempts over the last hour, disabled endpoints and quiet sources; for the
//! operator also the outbox. Each figure is shown only to a caller whose scopes let the
//! REST API show it.

use super::pages::{render, sources_with_last_event, Chrome};
use super::session::ConsoleUser;
use super::ConsoleError;
use crate::auth::{Principal, Scope};
use crate::http::AppState;
use crate::store::{ActivityTotal, Org, OrgSlug, OutboxStats, PageRequest, ACTIVITY_BUCKET};
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;

/// The window the overview's counts cover (plus the part of the oldest bucket).
const WINDOW: TimeDelta = TimeDelta::hours(1);

/// Ingress outcomes shown as columns; the rest are summed as "other refusals".
const SOURCE_COLUMNS: [&str; 5] = [
    "accepted",
    "duplicate",
    "ignored",
    "rejected",
    "misconfigured",
];
/// Delivery attempt outcomes (`hookgate_deliveries_total`'s labels).
const ENDPOINT_COLUMNS: [&str; 4] = ["delivered", "retrying", "failed", "gone"];

struct Named {
    id: String,
    name: String,
}

struct SourceActivity {
    org: String,
    source: Named,
    counts: [u64; SOURCE_COLUMNS.len()],
    other: u64,
}

struct EndpointActivity {
    org: String,
    endpoint: Named,
    counts: [u64; ENDPOINT_COLUMNS.len()],
}

struct OrgRow {
    slug: String,
    name: String,
    /// Sources on the first page ("200+" beyond), when the caller may read them.
    sources: Option<String>,
    quiet: Vec<Named>,
    disabled: Vec<Named>,
}

struct OutboxFigures {
    backlog: u64,
    oldest: Option<DateTime<Utc>>,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    orgs: Vec<OrgRow>,
    outbox: Option<OutboxFigures>,
    since: DateTime<Utc>,
    source_columns: [&'static str; SOURCE_COLUMNS.len()],
    endpoint_columns: [&'static str; ENDPOINT_COLUMNS.len()],
    sources: Vec<SourceActivity>,
    endpoints: Vec<EndpointActivity>,
}

impl OverviewPage {
    fn any_quiet(&self) -> bool {
        self.orgs.iter().any(|org| !org.quiet.is_empty())
    }

    fn any_disabled(&self) -> bool {
        self.orgs.iter().any(|org| !org.disabled.is_empty())
    }
}

/// What one org contributes: its row, and the names of its subjects the caller may see.
struct OrgView {
    row: OrgRow,
    sources: Option<HashMap<String, String>>,
    endpoints: Option<HashMap<String, String>>,
}

async fn org_view(state: &AppState, user: &ConsoleUser, org: Org) -> Result<OrgView, ConsoleError> {
    let now = Utc::now();
    let first = PageRequest::first(PageRequest::MAX_LIMIT);
    let mut row = OrgRow {
        slug: org.slug.as_str().to_owned(),
        name: org.name,
        sources: None,
        quiet: Vec::new(),
        disabled: Vec::new(),
    };
    let sources = if user.principal.allows(&org.slug, Scope::SourceRead).is_ok() {
        let (sources, next) = sources_with_last_event(state, &org.slug, &first).await?;
        row.sources = Some(match next {
            Some(_) => format!("{}+", sources.len()),
            None => sources.len().to_string(),
        });
        row.quiet = sources
            .iter()
            .filter(|(source, at)| source.is_quiet(*at, now))
            .map(|(source, _)| Named {
                id: source.id.clone(),
                name: source.name.clone(),
            })
            .collect();
        Some(sources.into_iter().map(|(s, _)| (s.id, s.name)).collect())
    } else {
        None
    };
    let endpoints = if user
        .principal
        .allows(&org.slug, Scope::EndpointRead)
        .is_ok()
    {
        let endpoints = state.store().list_endpoints(&org.slug, &first).await?.items;
        row.disabled = endpoints
            .iter()
            .filter(|endpoint| !endpoint.enabled)
            .map(|endpoint| Named {
                id: endpoint.id.clone(),
                name: endpoint_name(&endpoint.description, &endpoint.url),
            })
            .collect();
        Some(
            endpoints
                .into_iter()
                .map(|e| {
                    let name = endpoint_name(&e.description, &e.url);
                    (e.id, name)
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(OrgView {
        row,
        sources,
        endpoints,
    })
}

/// An endpoint is known by its description, else by its URL.
fn endpoint_name(description: &str, url: &str) -> String {
    if description.is_empty() {
        url.to_owned()
    } else {
        description.to_owned()
    }
}

/// Sorts the last hour's totals into rows: a source's (if the caller may read
/// sources of its org) or an endpoint's (likewise), busiest first.
fn activity_rows(
    totals: Vec<ActivityTotal>,
    views: &[OrgView],
) -> (Vec<SourceActivity>, Vec<EndpointActivity>) {
    let mut sources: HashMap<String, SourceActivity> = HashMap::new();
    let mut endpoints: HashMap<String, EndpointActivity> = HashMap::new();
    for total in totals {
        for view in views {
            if let Some(name) = view.sources.as_ref().and_then(|s| s.get(&total.subject_id)) {
                let row =
                    sources
                        .entry(total.subject_id.clone())
                        .or_insert_with(|| SourceActivity {
                            org: view.row.slug.clone(),
                            source: Named {
                                id: total.subject_id.clone(),
                                name: name.clone(),
                            },
                            counts: [0; SOURCE_COLUMNS.len()],
                            other: 0,
                        });
                match SOURCE_COLUMNS.iter().position(|c| *c == total.outcome) {
                    Some(column) => row.counts[column] += total.count,
                    None => row.other += total.count,
                }
            } else if let Some(name) = view
                .endpoints
                .as_ref()
                .and_then(|e| e.get(&total.subject_id))
            {
                let row = endpoints
                    .entry(total.subject_id.clone())
                    .or_insert_with(|| EndpointActivity {
                        org: view.row.slug.clone(),
                        endpoint: Named {
                            id: total.subject_id.clone(),
                            name: name.clone(),
                        },
                        counts: [0; ENDPOINT_COLUMNS.len()],
                    });
                if let Some(column) = ENDPOINT_COLUMNS.iter().position(|c| *c == total.outcome) {
                    row.counts[column] += total.count;
                }
            }
        }
    }
    let mut sources: Vec<SourceActivity> = sources.into_values().collect();
    sources.sort_by_key(|row| {
        (
            std::cmp::Reverse(row.counts.iter().sum::<u64>() + row.other),
            row.source.id.clone(),
        )
    });
    let mut endpoints: Vec<EndpointActivity> = endpoints.into_values().collect();
    endpoints.sort_by_key(|row| {
        (
            std::cmp::Reverse(row.counts.iter().sum::<u64>()),
            row.endpoint.id.clone(),
        )
    });
    (sources, endpoints)
}

pub async fn overview(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    let orgs: Vec<Org> = match &user.principal {
        Principal::Operator => {
            state
                .store()
                .list_orgs(&PageRequest::first(PageRequest::MAX_LIMIT))
                .await?
                .items
        }
        Principal::ApiKey(key) => state
            .store()
            .find_org(&key.org)
            .await?
            .into_iter()
            .collect(),
    };
    let mut views = Vec::with_capacity(orgs.len());
    for org in orgs {
        views.push(org_view(&state, &user, org).await?);
    }
    let since = crate::store::activity_bucket(Utc::now() - WINDOW + ACTIVITY_BUCKET);
    let slugs: Vec<OrgSlug> = views
        .iter()
        .filter(|view| view.sources.is_some() || view.endpoints.is_some())
        .filter_map(|view| OrgSlug::parse(&view.row.slug).ok())
        .collect();
    state.metrics().activity.flush(state.store()).await;
    let totals = if slugs.is_empty() {
        Vec::new()
    } else {
        state.store().activity_since(&slugs, since).await?
    };
    let (sources, endpoints) = activity_rows(totals, &views);
    // The outbox is the whole instance's, not an org's: the operator's to see.
    let outbox = if user.is_operator() {
        let OutboxStats {
            backlog,
            oldest_enqueued_at,
        } = state.store().outbox_stats().await?;
        Some(OutboxFigures {
            backlog,
            oldest: oldest_enqueued_at,
        })
    } else {
        None
    };
    render(&OverviewPage {
        chrome: Chrome::of(&user),
        orgs: views.into_iter().map(|view| view.row).collect(),
        outbox,
        since,
        source_columns: SOURCE_COLUMNS,
        endpoint_columns: ENDPOINT_COLUMNS,
        sources,
        endpoints,
    })
}
