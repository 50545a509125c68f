//! The bounded export queue: ended spans wait here for the exporter, never the
//! request that ended them. When the queue is full the span is dropped and counted.

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::ReasonLabels;

/// How the queue and its exporter are sized.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Spans held at most; beyond it they are dropped (`reason="queue_full"`).
    pub capacity: usize,
    /// Spans per export request.
    pub batch: usize,
    /// How long a partial batch waits for more spans before it is sent.
    pub delay: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            capacity: 8_192,
            batch: 512,
            delay: Duration::from_millis(500),
        }
    }
}

/// Counts spans that never reach the collector, by reason.
#[derive(Debug, Clone, Default)]
pub struct Dropped(Family<ReasonLabels, Counter>);

impl Dropped {
    pub fn family(&self) -> Family<ReasonLabels, Counter> {
        self.0.clone()
    }

    fn add(&self, reason: &'static str, spans: usize) {
        self.0
            .get_or_create(&ReasonLabels { reason })
            .inc_by(spans as u64);
    }
}

/// The SDK's span processor: hands each ended (sampled) span to the queue.
#[derive(Debug)]
pub(super) struct QueueProcessor {
    spans: mpsc::Sender<SpanData>,
    dropped: Dropped,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.spans.try_send(span).is_err() {
            self.dropped.add("queue_full", 1);
        }
    }

    /// Export runs on its own task; a caller that must wait for it uses
    /// [`super::Telemetry::shutdown`].
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The processor and the task that exports what it queues, until `stop` fires; then
/// what is already queued is exported too.
pub(super) fn spawn<E: SpanExporter + 'static>(
    exporter: E,
    resource: &Resource,
    config: QueueConfig,
    dropped: Dropped,
    stop: CancellationToken,
) -> (QueueProcessor, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(config.capacity.max(1));
    let mut exporter = exporter;
    exporter.set_resource(resource);
    let task = tokio::spawn(export(exporter, receiver, config, dropped.clone(), stop));
    (
        QueueProcessor {
            spans: sender,
            dropped,
        },
        task,
    )
}

async fn export<E: SpanExporter>(
    exporter: E,
    mut spans: mpsc::Receiver<SpanData>,
    config: QueueConfig,
    dropped: Dropped,
    stop: CancellationToken,
) {
    let batch = config.batch.max(1);
    let mut buffer = Vec::with_capacity(batch);
    loop {
        let stopping = tokio::select! {
            received = spans.recv_many(&mut buffer, batch) => received == 0,
            () = stop.cancelled() => true,
        };
        if stopping {
            // What is queued goes out in batches; spans ended later are not waited for.
            while !buffer.is_empty() || fill(&mut spans, &mut buffer, batch) > 0 {
                send(&exporter, &mut buffer, &dropped).await;
            }
            return;
        }
        let deadline = tokio::time::sleep(config.delay);
        tokio::pin!(deadline);
        while buffer.len() < batch {
            let room = batch - buffer.len();
            tokio::select! {
                received = spans.recv_many(&mut buffer, room) => if received == 0 { break },
                () = &mut deadline => break,
                () = stop.cancelled() => break,
            }
        }
        send(&exporter, &mut buffer, &dropped).await;
    }
}

/// Takes what is queued now, up to `batch`, without waiting.
fn fill(spans: &mut mpsc::Receiver<SpanData>, buffer: &mut Vec<SpanData>, batch: usize) -> usize {
    let mut taken = 0;
    while buffer.len() < batch {
        match spans.try_recv() {
            Ok(span) => {
                buffer.push(span);
                taken += 1;
            }
            Err(_) => break,
        }
    }
    taken
}

async fn send<E: SpanExporter>(exporter: &E, buffer: &mut Vec<SpanData>, dropped: &Dropped) {
    let spans = std::mem::take(buffer);
    let count = spans.len();
    if let Err(error) = exporter.export(spans).await {
        dropped.add("export_failed", count);
        tracing::debug!(%error, spans = count, "trace export failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry::InstrumentationScope;
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    /// Records batch sizes; exports wait for a permit of `gate`, and fail if `fail`.
    #[derive(Debug, Clone)]
    struct Recorder {
        batches: Arc<Mutex<Vec<usize>>>,
        gate: Arc<tokio::sync::Semaphore>,
        fail: bool,
    }

    impl Recorder {
        fn new(permits: usize, fail: bool) -> Self {
            Self {
                batches: Arc::default(),
                gate: Arc::new(tokio::sync::Semaphore::new(permits)),
                fail,
            }
        }

        fn batches(&self) -> Vec<usize> {
            self.batches.lock().unwrap().clone()
        }
    }

    impl SpanExporter for Recorder {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let permit = self.gate.acquire().await;
            permit.unwrap().forget();
            self.batches.lock().unwrap().push(batch.len());
            if self.fail {
                return Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "collector down".into(),
                ));
            }
            Ok(())
        }
    }

    fn span(n: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(n) + 1),
                SpanId::from(n + 1),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "test".into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn count(dropped: &Dropped, reason: &'static str) -> u64 {
        dropped.0.get_or_create(&ReasonLabels { reason }).get()
    }

    fn start(
        recorder: &Recorder,
        capacity: usize,
        batch: usize,
    ) -> (
        QueueProcessor,
        tokio::task::JoinHandle<()>,
        Dropped,
        CancellationToken,
    ) {
        let dropped = Dropped::default();
        let stop = CancellationToken::new();
        let config = QueueConfig {
            capacity,
            batch,
            delay: Duration::from_secs(60),
        };
        let resource = Resource::builder_empty().build();
        let (processor, task) = spawn(
            recorder.clone(),
            &resource,
            config,
            dropped.clone(),
            stop.clone(),
        );
        (processor, task, dropped, stop)
    }

    // Current-thread runtime: the export task runs only when the test awaits, so the
    // spans below all end while the exporter cannot take any.
    #[tokio::test]
    async fn spans_beyond_a_full_queue_are_dropped_and_counted_without_waiting() {
        let recorder = Recorder::new(0, false);
        let (processor, task, dropped, stop) = start(&recorder, 4, 4);
        for n in 0..10 {
            processor.on_end(span(n));
        }
        assert_eq!(count(&dropped, "queue_full"), 6);
        recorder.gate.add_permits(10);
        stop.cancel();
        task.await.unwrap();
        assert_eq!(recorder.batches(), vec![4], "the queued spans still go out");
    }

    #[tokio::test]
    async fn queued_spans_are_exported_in_batches_on_stop() {
        let recorder = Recorder::new(100, false);
        let (processor, task, dropped, stop) = start(&recorder, 100, 3);
        for n in 0..7 {
            processor.on_end(span(n));
        }
        stop.cancel();
        task.await.unwrap();
        assert_eq!(recorder.batches().iter().sum::<usize>(), 7);
        assert!(
            recorder.batches().iter().all(|b| *b <= 3),
            "{:?}",
            recorder.batches()
        );
        assert_eq!(count(&dropped, "queue_full"), 0);
    }

    #[tokio::test]
    async fn spans_of_a_failed_export_are_counted_as_dropped() {
        let recorder = Recorder::new(100, true);
        let (processor, task, dropped, stop) = start(&recorder, 100, 10);
        for n in 0..5 {
            processor.on_end(span(n));
        }
        stop.cancel();
        task.await.unwrap();
        assert_eq!(count(&dropped, "export_failed"), 5);
    }
}
