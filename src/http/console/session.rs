//! Console sign-in state (SPEC §13): a random cookie whose SHA-256 names a server-side
//! session; a CSRF token per session for every state-changing form; sessions end after
//! 12 h idle, at sign-out, when their API key is revoked, or when the operator token
//! they were opened with is replaced.

use super::super::extract::principal_label;
use super::super::AppState;
use super::ConsoleError;
use crate::auth::Principal;
use crate::crypto::{random_token, token_hash, tokens_match, Secret};
use crate::store::{ConsoleSession, SessionHolder};
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};

pub const COOKIE_NAME: &str = "hookgate_console";
use crate::store::CONSOLE_SESSION_IDLE as IDLE_LIMIT;
/// The idle clock is written at most this often per session, not on every page.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The `Set-Cookie` value that opens a session. `Secure` when the console is served
/// over https (its public URL says so); scoped to the console's paths.
pub fn session_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes it from the browser.
pub fn cleared_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session cookie's value among the request's `Cookie` headers, if exactly one.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value);
    let first = found.next().filter(|v| !v.is_empty())?;
    // Two cookies of the same name (one planted on a parent path): trust neither.
    found.next().is_none().then_some(first)
}

/// Whether a session last seen at `last_seen_at` still signs in at `now`.
pub fn is_fresh(last_seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last_seen_at < IDLE_LIMIT
}

/// A cross-site form post: an `Origin` that is present and names another host than the
/// one the request was sent to. (Browsers send `Origin` on every POST; SameSite=Strict
/// already keeps the cookie off cross-site requests, this refuses them outright.)
pub fn is_cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    // An Origin no browser would send (not visible ASCII) is not taken for an absent one.
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

/// The stored form of who signs in: an operator session remembers which operator token
/// (by fingerprint) it was opened with.
pub fn holder_of(principal: &Principal, operator_token: &Secret) -> SessionHolder {
    match principal {
        Principal::Operator => SessionHolder::Operator {
            token_fingerprint: operator_token.fingerprint(),
        },
        Principal::ApiKey(key) => SessionHolder::ApiKey {
            key_id: key.id.clone(),
        },
    }
}

/// Opens a session for `principal`; returns the cookie value (shown to nobody but the
/// browser) and the stored record.
pub async fn open(
    state: &AppState,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<(Secret, ConsoleSession), ConsoleError> {
    let cookie = random_token("hgs_");
    let session = ConsoleSession {
        token_hash: token_hash(cookie.expose()),
        holder: holder_of(principal, state.operator_token()),
        csrf_token: random_token("").expose_str().unwrap_or_default().to_owned(),
        created_at: now,
        last_seen_at: now,
    };
    state.store().insert_console_session(&session).await?;
    Ok((cookie, session))
}

/// A signed-in console user: the principal the session stands for, re-checked on every
/// request, and the session (for its CSRF token).
pub struct ConsoleUser {
    pub principal: Principal,
    pub session: ConsoleSession,
}

/// A form that changes nothing but its CSRF token (each action adds its own fields).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

impl ConsoleUser {
    /// Refuses a state-changing form posted from another site, or one whose CSRF token
    /// is not the one issued at this sign-in.
    pub fn check_form(
        &self,
        headers: &axum::http::HeaderMap,
        csrf: &str,
    ) -> Result<(), ConsoleError> {
        if is_cross_origin(headers) {
            return Err(ConsoleError::Forbidden("a form posted from another site"));
        }
        self.check_csrf(csrf)
    }

    /// Refuses a form whose CSRF token is not the one issued at this sign-in.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), ConsoleError> {
        if tokens_match(submitted.as_bytes(), self.session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "the form's CSRF token does not match this sign-in",
            ))
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.principal, Principal::Operator)
    }
}

/// The principal a session stands for now, or `None` when it no longer signs anyone in.
async fn resolve(
    state: &AppState,
    session: &ConsoleSession,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, ConsoleError> {
    if !is_fresh(session.last_seen_at, now) {
        return Ok(None);
    }
    Ok(match &session.holder {
        SessionHolder::Operator { token_fingerprint } => {
            let current = state.operator_token().fingerprint();
            tokens_match(token_fingerprint.as_bytes(), current.as_bytes())
                .then_some(Principal::Operator)
        }
        SessionHolder::ApiKey { key_id } => state
            .store()
            .find_api_key(key_id)
            .await?
            .filter(|key| key.revoked_at.is_none())
            .map(Principal::ApiKey),
    })
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let cookie = cookie_value(&parts.headers).ok_or(ConsoleError::SignInFirst)?;
        let hash = token_hash(cookie.as_bytes());
        let session = state
            .store()
            .find_console_session(&hash)
            .await?
            .ok_or(ConsoleError::SignInFirst)?;
        let now = Utc::now();
        let Some(principal) = resolve(state, &session, now).await? else {
            state.store().delete_console_session(&hash).await?;
            return Err(ConsoleError::SignInFirst);
        };
        if now - session.last_seen_at >= TOUCH_EVERY {
            state.store().touch_console_session(&hash, now).await?;
        }
        if let Some(slot) = parts
            .extensions
            .get::<super::super::context::PrincipalSlot>()
        {
            slot.set(&principal_label(&principal));
        }
        Ok(ConsoleUser { principal, session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Request headers as (name, value) pairs.
    type Pairs<'a> = &'a [(&'static str, &'a str)];

    fn headers(pairs: Pairs<'_>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_session_cookie_is_read_only_when_it_is_unambiguous() {
        let cases: &[(Pairs<'_>, Option<&str>)] = &[
            (&[("cookie", "hookgate_console=abc")], Some("abc")),
            (&[("cookie", "a=1; hookgate_console=abc; b=2")], Some("abc")),
            (
                &[("cookie", "a=1"), ("cookie", "hookgate_console=x")],
                Some("x"),
            ),
            (
                &[("cookie", "hookgate_console=a; hookgate_console=b")],
                None,
            ),
            (&[("cookie", "hookgate_console=")], None),
            (&[("cookie", "other_hookgate_console=abc")], None),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(cookie_value(&headers(pairs)), *want, "{pairs:?}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_https() {
        let plain = session_cookie("v", false);
        assert_eq!(
            plain,
            "hookgate_console=v; Path=/console; HttpOnly; SameSite=Strict"
        );
        assert!(session_cookie("v", true).ends_with("; Secure"));
        assert!(cleared_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn sessions_expire_after_twelve_idle_hours() {
        let now = Utc::now();
        assert!(is_fresh(now - Duration::hours(11), now));
        assert!(!is_fresh(now - Duration::hours(12), now));
    }

    #[test]
    fn posts_from_another_origin_are_cross_origin() {
        let cases: &[(Pairs<'_>, bool)] = &[
            (&[("host", "127.0.0.1:8080")], false),
            (
                &[
                    ("host", "127.0.0.1:8080"),
                    ("origin", "http://127.0.0.1:8080"),
                ],
                false,
            ),
            (
                &[
                    ("host", "hookgate.example"),
                    ("origin", "https://evil.example"),
                ],
                true,
            ),
            (&[("host", "hookgate.example"), ("origin", "null")], true),
            (&[("origin", "https://hookgate.example")], true),
        ];
        let mut unreadable = headers(&[("host", "hookgate.example")]);
        unreadable.insert(
            ORIGIN,
            HeaderValue::from_bytes(b"https://\xffhookgate.example").unwrap(),
        );
        assert!(
            is_cross_origin(&unreadable),
            "an unreadable Origin is cross-origin"
        );
        for (pairs, want) in cases {
            assert_eq!(is_cross_origin(&headers(pairs)), *want, "{pairs:?}");
        }
    }
}
