//! `hookgate runs events --follow`: a run's event stream read until the run ends. A
//! stream that breaks off before then is opened again with `Last-Event-ID` set to the
//! last event printed, after a pause that doubles from 0.5 s to 5 s while nothing new
//! arrives, so no event is printed twice and none is missed. The loop is generic over
//! [`Connect`]: the CLI's is [`RunStream`] over the API client, tests script theirs.

use super::client::{Client, ClientError, EventStream};
use super::sse::{Frame, Parser, TooLarge};
use crate::store::RunStatus;
use bytes::Bytes;
use serde_json::Value;
use std::time::Duration;

/// The first pause before opening a broken stream again.
pub const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The longest pause.
pub const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Where a run's event stream comes from.
pub trait Connect {
    type Stream: Chunks;
    /// Opens the stream after seq `after` (from the first event when `None`).
    async fn open(&mut self, after: Option<u64>) -> Result<Self::Stream, ClientError>;
    /// Whether the run has ended: asked when a stream ends at once with nothing new,
    /// which a stream resumed after the run's last event does.
    async fn ended(&mut self) -> Result<bool, ClientError>;
    /// Waits `delay` before opening the stream again, after it broke off for `reason`.
    async fn pause(&mut self, delay: Duration, reason: &str);
}

/// An open stream's bytes.
pub trait Chunks {
    /// The next bytes as they arrived; `None` once the server has ended the stream.
    async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError>;
}

/// One event of the run's timeline, as the stream sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub event_type: String,
    /// The `data:` payload: the event as the timeline's JSON lists it.
    pub value: Value,
    /// The payload's text as received.
    pub text: String,
}

impl Event {
    fn from_frame(frame: Frame) -> Result<Self, FollowError> {
        let not_an_event = || FollowError::NotAnEvent(frame.data.chars().take(200).collect());
        let value: Value = serde_json::from_str(&frame.data).map_err(|_| not_an_event())?;
        let seq = value["seq"]
            .as_u64()
            .or_else(|| frame.id.as_deref().and_then(|id| id.trim().parse().ok()))
            .ok_or_else(not_an_event)?;
        let event_type = value["type"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| frame.event.clone())
            .unwrap_or_default();
        Ok(Self {
            seq,
            event_type,
            value,
            text: frame.data,
        })
    }

    /// `run.completed`, `run.failed`, `run.cancelled` (and their aliases): the run's
    /// last event, after which the server ends the stream.
    pub fn is_terminal(&self) -> bool {
        RunStatus::after_event(&self.event_type).is_some_and(RunStatus::is_terminal)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("the stream sent an event that is not one of a run's timeline: {0:?}")]
    NotAnEvent(String),
    /// Printing failed (stdout closed).
    #[error("cannot print the event")]
    Output(#[source] std::io::Error),
}

/// The pause before each new attempt: doubling from [`FIRST_PAUSE`] up to
/// [`MAX_PAUSE`], back to the first once an event arrives.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: FIRST_PAUSE }
    }

    fn next(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(MAX_PAUSE);
        delay
    }

    fn reset(&mut self) {
        self.next = FIRST_PAUSE;
    }
}

/// Prints (with `print`) every event after seq `after` as it arrives, until the run's
/// terminal event. A failure to open the stream the first time, or a refusal at any time
/// (401, 403, 404), is returned; a broken stream or a transient failure (unreachable,
/// 5xx) is tried again after a pause. An event at or below the last seq printed is
/// never printed again.
pub async fn follow<C: Connect>(
    source: &mut C,
    after: Option<u64>,
    mut print: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<(), FollowError> {
    let mut last = after;
    let mut backoff = Backoff::new();
    let mut opened_before = false;
    loop {
        let reason = match source.open(last).await {
            Ok(mut stream) => {
                opened_before = true;
                let mut parser = Parser::new();
                let mut printed = false;
                loop {
                    let bytes = match stream.chunk().await {
                        Ok(Some(bytes)) => bytes,
                        Ok(None) if !printed => match source.ended().await {
                            Ok(true) => return Ok(()),
                            Ok(false) => break "the stream ended before the run did".to_owned(),
                            Err(error) if error.is_transient() => break chain(&error),
                            Err(error) => return Err(error.into()),
                        },
                        Ok(None) => break "the stream ended before the run did".to_owned(),
                        Err(error) => break chain(&error),
                    };
                    for frame in parser.feed(&bytes)? {
                        let event = Event::from_frame(frame)?;
                        if last.is_some_and(|last| event.seq <= last) {
                            continue;
                        }
                        print(&event).map_err(FollowError::Output)?;
                        last = Some(event.seq);
                        printed = true;
                        backoff.reset();
                        if event.is_terminal() {
                            return Ok(());
                        }
                    }
                }
            }
            Err(error) if opened_before && error.is_transient() => chain(&error),
            Err(error) => return Err(error.into()),
        };
        source.pause(backoff.next(), &reason).await;
    }
}

/// An error and its causes on one line, as `hookgate:` errors are printed.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A run's event stream from the API.
pub struct RunStream<'a> {
    pub client: &'a Client,
    pub run_id: &'a str,
}

impl Connect for RunStream<'_> {
    type Stream = EventStream;

    async fn open(&mut self, after: Option<u64>) -> Result<EventStream, ClientError> {
        self.client
            .event_stream(&["v1", "runs", self.run_id, "events"], after)
            .await
    }

    async fn ended(&mut self) -> Result<bool, ClientError> {
        let run = self.client.get(&["v1", "runs", self.run_id], &[]).await?;
        let status = run.value["status"].as_str().and_then(RunStatus::parse);
        Ok(status.is_some_and(RunStatus::is_terminal))
    }

    async fn pause(&mut self, delay: Duration, reason: &str) {
        eprintln!(
            "hookgate: {reason}; reconnecting in {:.1} s",
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
    }
}

impl Chunks for EventStream {
    async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        EventStream::chunk(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// What one attempt to open the stream gives.
    enum Attempt {
        /// Refused with this HTTP status.
        Refused(u16),
        /// Opens, sends these chunks, then ends cleanly (`true`) or breaks off.
        Opens(Vec<&'static str>, bool),
    }

    struct Script {
        attempts: VecDeque<Attempt>,
        /// The `after` of each attempt.
        opened: Vec<Option<u64>>,
        pauses: Vec<Duration>,
        run_ended: bool,
        asked_ended: usize,
    }

    struct Scripted {
        chunks: VecDeque<&'static str>,
        clean_end: bool,
    }

    fn api_error(status: u16) -> ClientError {
        ClientError::Api {
            status,
            code: "x".into(),
            message: "x".into(),
            request_id: "req_1".into(),
            hint: "",
        }
    }

    impl Connect for Script {
        type Stream = Scripted;

        async fn open(&mut self, after: Option<u64>) -> Result<Scripted, ClientError> {
            self.opened.push(after);
            match self.attempts.pop_front().expect("no attempt left") {
                Attempt::Refused(status) => Err(api_error(status)),
                Attempt::Opens(chunks, clean_end) => Ok(Scripted {
                    chunks: chunks.into(),
                    clean_end,
                }),
            }
        }

        async fn ended(&mut self) -> Result<bool, ClientError> {
            self.asked_ended += 1;
            Ok(self.run_ended)
        }

        async fn pause(&mut self, delay: Duration, _reason: &str) {
            self.pauses.push(delay);
        }
    }

    impl Chunks for Scripted {
        async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
            match self.chunks.pop_front() {
                Some(chunk) => Ok(Some(Bytes::from_static(chunk.as_bytes()))),
                None if self.clean_end => Ok(None),
                None => Err(api_error(502)),
            }
        }
    }

    fn script(attempts: Vec<Attempt>) -> Script {
        Script {
            attempts: attempts.into(),
            opened: Vec::new(),
            pauses: Vec::new(),
            run_ended: false,
            asked_ended: 0,
        }
    }

    /// Follows `script` after `after`; returns the seqs printed and the outcome.
    fn run(script: &mut Script, after: Option<u64>) -> (Vec<u64>, Result<(), FollowError>) {
        let mut printed = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(follow(script, after, |event| {
            printed.push(event.seq);
            Ok(())
        }));
        (printed, outcome)
    }

    const E1: &str = "id: 1\nevent: run.started\ndata: {\"seq\":1,\"type\":\"run.started\"}\n\n";
    const E2: &str = "id: 2\nevent: run.step\ndata: {\"seq\":2,\"type\":\"run.step\"}\n\n";
    const E3: &str = "id: 3\nevent: run.step\ndata: {\"seq\":3,\"type\":\"run.step\"}\n\n";
    const DONE: &str =
        "id: 4\nevent: run.completed\ndata: {\"seq\":4,\"type\":\"run.completed\"}\n\n";

    #[test]
    fn prints_each_event_and_stops_after_the_terminal_one() {
        let mut script = script(vec![Attempt::Opens(vec![E1, ":\n\n", E2, E3, DONE], true)]);
        let (printed, outcome) = run(&mut script, None);
        outcome.unwrap();
        assert_eq!(printed, [1, 2, 3, 4]);
        assert_eq!(script.opened, [None]);
        assert!(script.pauses.is_empty());
    }

    #[test]
    fn a_broken_stream_resumes_after_the_last_event_printed_without_repeats() {
        // The first connection breaks off inside event 2; the second one breaks off
        // without anything new; the third is refused for now; the fourth starts over
        // from event 1 (as a server that ignored Last-Event-ID would).
        let mut script = script(vec![
            Attempt::Opens(vec![E1, &E2[..20]], false),
            Attempt::Opens(vec![":\n\n"], false),
            Attempt::Refused(503),
            Attempt::Opens(vec![E1, E2, E3, DONE], false),
        ]);
        let (printed, outcome) = run(&mut script, None);
        outcome.unwrap();
        assert_eq!(printed, [1, 2, 3, 4]);
        assert_eq!(script.opened, [None, Some(1), Some(1), Some(1)]);
        assert_eq!(
            script.pauses,
            [FIRST_PAUSE, FIRST_PAUSE * 2, FIRST_PAUSE * 4],
            "doubling while nothing new arrives"
        );
    }

    #[test]
    fn pauses_double_up_to_the_longest_and_start_over_once_an_event_arrives() {
        let mut attempts: Vec<Attempt> = (0..6).map(|_| Attempt::Opens(vec![], false)).collect();
        attempts.push(Attempt::Opens(vec![E1], false));
        attempts.push(Attempt::Opens(vec![DONE], true));
        let mut script = script(attempts);
        let (printed, outcome) = run(&mut script, None);
        outcome.unwrap();
        assert_eq!(printed, [1, 4]);
        let ms: Vec<u128> = script.pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 5000, 5000, 500]);
        assert_eq!(script.opened.last(), Some(&Some(1)));
    }

    #[test]
    fn after_skips_what_came_before_and_a_resume_past_the_end_exits_at_once() {
        let mut from_two = script(vec![Attempt::Opens(vec![E3, DONE], true)]);
        let (printed, outcome) = run(&mut from_two, Some(2));
        outcome.unwrap();
        assert_eq!((printed, from_two.opened), (vec![3, 4], vec![Some(2)]));

        // The server ends a stream resumed after the run's last event at once.
        let mut ended = script(vec![Attempt::Opens(vec![":\n\n"], true)]);
        ended.run_ended = true;
        let (printed, outcome) = run(&mut ended, Some(4));
        outcome.unwrap();
        assert!(printed.is_empty());
        assert_eq!(ended.asked_ended, 1);

        // A clean end while the run goes on is a broken stream: open it again.
        let mut early = script(vec![
            Attempt::Opens(vec![E1], true),
            Attempt::Opens(vec![DONE], true),
        ]);
        let (printed, outcome) = run(&mut early, None);
        outcome.unwrap();
        assert_eq!(printed, [1, 4]);
        assert_eq!(early.opened, [None, Some(1)]);
    }

    #[test]
    fn refusals_and_a_first_failure_are_errors_not_retried() {
        for (attempts, printed_before) in [
            (vec![Attempt::Refused(404)], 0),
            (vec![Attempt::Refused(503)], 0),
            (
                vec![Attempt::Opens(vec![E1], false), Attempt::Refused(401)],
                1,
            ),
        ] {
            let mut script = script(attempts);
            let (printed, outcome) = run(&mut script, None);
            assert_eq!(printed.len(), printed_before);
            assert!(
                matches!(outcome, Err(FollowError::Client(ClientError::Api { .. }))),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn an_event_that_is_not_a_timeline_row_is_an_error() {
        for stream in ["data: not json\n\n", "data: {\"type\":\"run.step\"}\n\n"] {
            let mut script = script(vec![Attempt::Opens(vec![stream], true)]);
            let (_, outcome) = run(&mut script, None);
            assert!(
                matches!(outcome, Err(FollowError::NotAnEvent(_))),
                "{outcome:?}"
            );
        }
        // The seq may come from the id when the row lacks it.
        let mut script = script(vec![Attempt::Opens(
            vec!["id: 9\ndata: {\"type\":\"run.failed\"}\n\n"],
            true,
        )]);
        let (printed, outcome) = run(&mut script, None);
        outcome.unwrap();
        assert_eq!(printed, [9]);
    }

    #[test]
    fn terminal_events_are_those_that_end_a_run() {
        let event = |event_type: &str| Event {
            seq: 1,
            event_type: event_type.to_owned(),
            value: Value::Null,
            text: String::new(),
        };
        for terminal in ["run.completed", "run.failed", "run.cancelled"] {
            assert!(event(terminal).is_terminal(), "{terminal}");
        }
        for other in ["run.started", "run.step", "run.cancel_requested", ""] {
            assert!(!event(other).is_terminal(), "{other}");
        }
    }
}
