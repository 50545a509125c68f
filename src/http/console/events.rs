//! An ingress event on one page (headers, body, lineage from the sender's request to
//! each product backend's deliveries), its replay, and the search box that finds a page
//! from any id hookgate or a sender gave.

use super::pages::{render, Chrome};
use super::see_other;
use super::session::ConsoleUser;
use super::session::CsrfForm;
use super::ConsoleError;
use crate::auth::{Principal, Scope};
use crate::http::ingress_events::{event_detail, replay, IngressEventDetail};
use crate::store::{IngressEvent, IngressEventFilter, OrgSlug, PageRequest};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::http::AppState;

/// What a path segment may carry unescaped (RFC 3986 unreserved characters).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Events a search by a sender's id lists at most.
const SEARCH_ROWS: usize = 20;

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventPage {
    chrome: Chrome,
    org: String,
    detail: IngressEventDetail,
    headers: Vec<(String, String)>,
    /// The body, pretty-printed when it is JSON.
    body_text: Option<String>,
    can_replay: bool,
    replayed: Option<String>,
}

#[derive(Deserialize)]
pub struct EventQuery {
    replayed: Option<String>,
}

pub async fn event(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<EventQuery>,
) -> Result<Html<String>, ConsoleError> {
    let detail = event_detail(&state, &user.principal, &id).await?;
    let org = detail.org.clone();
    let headers = detail
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            (name.clone(), value)
        })
        .collect();
    let body_text = detail.body.as_deref().map(readable_body);
    let chrome = Chrome::of(&user);
    render(&EventPage {
        chrome,
        org: org.as_str().to_owned(),
        can_replay: user.principal.allows(&org, Scope::RunTrigger).is_ok()
            && detail.event.status == "accepted"
            && !detail.event.body_expired,
        // Only a run id is echoed back, never other text from the URL.
        replayed: query.replayed.filter(|id| {
            id.starts_with("run_") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }),
        detail,
        headers,
        body_text,
    })
}

/// JSON indented for reading; any other text as it came.
pub(super) fn readable_body(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// The REST API's replay (same scope check, same audit entry), then back to the event.
pub async fn replay_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let replayed = replay(&state, &user.principal, &id, None).await?;
    let location = format!("/console/events/{id}?replayed={}", replayed.run.id);
    Ok(see_other(location))
}

#[derive(Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    chrome: Chrome,
    query: String,
    events: Vec<IngressEvent>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// The orgs whose events `principal` may read.
async fn readable_orgs(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<OrgSlug>, ConsoleError> {
    let orgs = match principal {
        Principal::Operator => state
            .store()
            .list_orgs(&PageRequest::first(PageRequest::MAX_LIMIT))
            .await?
            .items
            .into_iter()
            .map(|org| org.slug)
            .collect(),
        Principal::ApiKey(key) => vec![key.org.clone()],
    };
    Ok(orgs
        .into_iter()
        .filter(|org| principal.allows(org, Scope::SourceRead).is_ok())
        .collect())
}

/// Any id to its page: hookgate's own (`evt_`, `run_`, `src_`, `ep_`, `dlv_`) by
/// prefix (a run event's `evt_` id is not an ingress event's and falls through), anything else
/// as a sender's delivery id (`X-GitHub-Delivery`, a Stripe `evt_…`, a `webhook-id`).
pub async fn search(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ConsoleError> {
    let q = query.q.trim();
    if q.is_empty() {
        return Ok(see_other("/console".to_owned()));
    }
    let encoded = |id: &str| percent_encoding::utf8_percent_encode(id, PATH_SEGMENT).to_string();
    if q.starts_with("evt_") {
        if let Some(record) = state.store().find_ingress_event(q).await? {
            if user
                .principal
                .allows(&record.event.org, Scope::SourceRead)
                .is_ok()
            {
                return Ok(see_other(format!("/console/events/{}", encoded(q))));
            }
        }
    }
    if q.starts_with("run_") {
        if let Some(run) = state.store().find_run(q).await? {
            if user.principal.allows(&run.org, Scope::RunRead).is_ok() {
                return Ok(see_other(format!("/console/runs/{}", encoded(q))));
            }
        }
    }
    if q.starts_with("src_") {
        if let Some(source) = state.store().find_source(q).await? {
            if user
                .principal
                .allows(&source.org, Scope::SourceRead)
                .is_ok()
            {
                return Ok(see_other(format!(
                    "/console/orgs/{}/sources/{}",
                    source.org.as_str(),
                    encoded(&source.id)
                )));
            }
        }
    }
    if q.starts_with("ep_") {
        if let Some(endpoint) = state.store().find_endpoint(q).await? {
            if user
                .principal
                .allows(&endpoint.org, Scope::EndpointRead)
                .is_ok()
            {
                return Ok(see_other(format!("/console/endpoints/{}", encoded(q))));
            }
        }
    }
    if q.starts_with("dlv_") {
        if let Some(delivery) = state.store().find_delivery(q).await? {
            if user
                .principal
                .allows(&delivery.org, Scope::DeliveryRead)
                .is_ok()
            {
                return Ok(see_other(format!("/console/deliveries/{}", encoded(q))));
            }
        }
    }
    let mut events = Vec::new();
    let filter = IngressEventFilter {
        dedup_key: Some(q.to_owned()),
        ..IngressEventFilter::default()
    };
    for org in readable_orgs(&state, &user.principal).await? {
        let page = state
            .store()
            .list_ingress_events(&org, &filter, &PageRequest::first(SEARCH_ROWS))
            .await?;
        events.extend(page.items);
        if events.len() >= SEARCH_ROWS {
            events.truncate(SEARCH_ROWS);
            break;
        }
    }
    if let [only] = events.as_slice() {
        return Ok(see_other(format!("/console/events/{}", encoded(&only.id))));
    }
    let chrome = Chrome::of(&user);
    Ok(render(&SearchPage {
        chrome,
        query: q.to_owned(),
        events,
    })?
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::readable_body;

    #[test]
    fn json_bodies_are_indented_and_other_text_is_kept() {
        assert_eq!(readable_body(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(readable_body("a=1&b=2"), "a=1&b=2");
    }
}
