//! Process lifecycle: build the services for the configured mode, serve until the
//! shutdown token fires, then drain in-flight requests.

use crate::bootstrap::{self, BootstrapError};
use crate::config::{Config, Mode, Role};
use crate::crypto::{Keyring, KeyringError, MasterKey, Secret};
use crate::dispatch::{DeliveryLink, DispatchError, Dispatcher, RunEventWriter};
use crate::group_commit::GroupCommitConfig;
use crate::http::{self, AppState, Services};
use crate::ingress::{IngressWriter, RelayLink};
use crate::metrics::Metrics;
use crate::queue::{AmqpQueue, MemoryQueue, Queue, Topology};
use crate::rekey::{RekeyError, UnknownKeys};
use crate::relay::{self, Relay};
use crate::store::{EmbeddedStore, PostgresStore, Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("invalid master key")]
    MasterKey(#[from] KeyringError),
    #[error(transparent)]
    UnknownMasterKeys(#[from] UnknownKeys),
    #[error("HTTP server failed")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error("cannot set up the SNS certificate client")]
    CertificateClient(#[source] reqwest::Error),
    #[error("in-flight requests did not finish within the shutdown timeout")]
    ShutdownTimeout,
}

/// A configured, connected gateway, ready to serve.
pub struct App {
    config: Config,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    operator_token: Secret,
    keyring: Keyring,
    /// Secrets per master key id at start, for `hookgate_secrets_sealed`.
    sealed: Vec<crate::store::SealedCount>,
    /// Embedded mode's freshly generated operator token, to show once.
    pub new_operator_token: Option<Secret>,
    pub operator_token_path: Option<PathBuf>,
    /// Spans the trace exporter dropped, shown at /metrics.
    spans_dropped: crate::telemetry::Dropped,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, ServeError> {
        let (store, queue, operator_token, master_key, retired_keys, new_token, token_path): (
            Arc<dyn Store>,
            Arc<dyn Queue>,
            _,
            _,
            _,
            _,
            _,
        ) = match &config.mode {
            Mode::Production {
                database_url,
                amqp_url,
                exchange_prefix,
                queue_type,
            } => {
                let url = database_url.expose_str().unwrap_or_default();
                let store = PostgresStore::connect(url, config.db_pool_size).await?;
                let queue = AmqpQueue::new(
                    amqp_url.expose_str().unwrap_or_default(),
                    Topology {
                        run_events_queue_type: queue_type.clone(),
                        ..Topology::with_prefix(exchange_prefix)
                    },
                );
                // Config validation guarantees both in production mode.
                let token = config
                    .operator_token
                    .clone()
                    .unwrap_or_else(|| Secret::new(""));
                let key = config.master_key.clone().unwrap_or_else(|| Secret::new(""));
                let retired = config.master_keys_retired.clone();
                (
                    Arc::new(store),
                    Arc::new(queue),
                    token,
                    key,
                    retired,
                    None,
                    None,
                )
            }
            Mode::Embedded { data_dir } => {
                // Locked before anything is read or written in the dir, and from then on
                // held by the store, which lives as long as the server.
                let lock = bootstrap::DataDirLock::acquire(data_dir)?;
                let creds = bootstrap::embedded_credentials(
                    &lock,
                    config.operator_token.as_ref(),
                    config.master_key.as_ref(),
                    &config.master_keys_retired,
                )?;
                let store = tokio::task::spawn_blocking(move || EmbeddedStore::open_locked(lock))
                    .await
                    .map_err(|e| StoreError::Unavailable(Box::new(e)))??;
                let new_token = creds
                    .new_operator_token
                    .then(|| creds.operator_token.clone());
                (
                    Arc::new(store),
                    Arc::new(MemoryQueue::new()),
                    creds.operator_token,
                    creds.master_key,
                    creds.master_keys_retired,
                    new_token,
                    creds.token_path,
                )
            }
        };
        let keyring = keyring(&master_key, &retired_keys)?;
        // Every sealed secret must open: a missing key fails the start, naming it,
        // instead of the first request that needs one of its secrets.
        let sealed = crate::rekey::check_keys(store.as_ref(), &keyring)
            .await
            .map_err(|e| match e {
                RekeyError::Store(e) => ServeError::Store(e),
                RekeyError::UnknownKeys(unknown) => ServeError::UnknownMasterKeys(unknown),
            })?;
        Ok(Self {
            config,
            store,
            queue,
            operator_token,
            keyring,
            sealed,
            new_operator_token: new_token,
            operator_token_path: token_path,
            spans_dropped: crate::telemetry::Dropped::default(),
        })
    }

    /// Shows the trace exporter's dropped spans in this app's metrics.
    pub fn with_spans_dropped(mut self, dropped: crate::telemetry::Dropped) -> Self {
        self.spans_dropped = dropped;
        self
    }

    pub fn public_url(&self, listener: &TcpListener) -> String {
        if let Some(url) = &self.config.public_url {
            return url.clone();
        }
        match listener.local_addr() {
            Ok(addr) if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
            Ok(addr) => format!("http://{addr}"),
            Err(_) => format!("http://{}", self.config.listen),
        }
    }

    /// Serves on `listener` until `shutdown` fires, then lets in-flight requests
    /// finish (bounded by the configured shutdown timeout).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), ServeError> {
        let public_url = self.public_url(&listener);
        // Bound before anything starts, so a taken address fails the start cleanly.
        let metrics_listener = match self.config.metrics_listen {
            Some(address) => Some(TcpListener::bind(address).await.map_err(ServeError::Io)?),
            None => None,
        };
        let metrics = Arc::new(Metrics::with_spans_dropped(self.spans_dropped.family()));
        metrics.secrets_sealed(&crate::rekey::gauge_values(&self.keyring, &self.sealed));
        let relay_wake = Arc::new(Notify::new());
        let delivery_wake = Arc::new(Notify::new());
        let workers = TaskTracker::new();
        // Background work stops only after the HTTP server has drained, so runs
        // accepted by in-flight requests still get their publish attempt.
        let background = CancellationToken::new();
        let mut handoff = None;
        if self.config.roles.contains(&Role::Relay) {
            let (sender, handed) =
                relay::handoff(self.config.relay.handoff_capacity, self.config.relay.lease);
            handoff = Some(sender);
            Relay::new(
                Arc::clone(&self.store),
                Arc::clone(&self.queue),
                Arc::clone(&relay_wake),
                Arc::clone(&metrics),
                self.config.relay.clone(),
            )
            .spawn(&workers, background.clone(), handed);
        }
        let mut delivery_workers = None;
        if self.config.roles.contains(&Role::Delivery) {
            let dispatcher = Dispatcher::new(
                Arc::clone(&self.store),
                self.keyring.clone(),
                Arc::clone(&metrics),
                Arc::clone(&delivery_wake),
                self.config.dispatch.clone(),
            )?;
            dispatcher.clone().spawn(&workers, background.clone());
            delivery_workers = Some(dispatcher);
        }
        let delivery_link = DeliveryLink::new(Arc::clone(&delivery_wake), delivery_workers);
        metrics
            .activity
            .spawn_flusher(Arc::clone(&self.store), &workers, background.clone());
        if self.config.roles.contains(&Role::Ingress) {
            crate::ingress::EventLogJanitor {
                store: Arc::clone(&self.store),
                keyring: self.keyring.clone(),
                metrics: Arc::clone(&metrics),
                payload_retention: self.config.payload_retention,
            }
            .spawn(&workers, background.clone());
        }
        // Not tied to `background` either (see the ingress writers below): the HTTP
        // handlers hold it, and it stops once they are done.
        let run_wakes = crate::runs::RunWakes::default();
        if self.config.roles.contains(&Role::Api) {
            let store = Arc::clone(&self.store);
            let (wake, stop) = (run_wakes.callback(), background.clone());
            workers.spawn(async move { store.listen_run_events(wake, stop).await });
        }
        let run_event_writer = RunEventWriter::spawn(
            Arc::clone(&self.store),
            delivery_link.clone(),
            run_wakes.clone(),
            self.config.run_events,
            &workers,
        );
        if self.config.roles.contains(&Role::Delivery) {
            // One writer for the broker's events: its batches commit one after another
            // in the order they were taken, so a consumer's events move a run's status
            // in the order the broker delivered them (as when each had its own commit).
            let ordered = RunEventWriter::spawn(
                Arc::clone(&self.store),
                delivery_link.clone(),
                run_wakes.clone(),
                GroupCommitConfig {
                    writers: 1,
                    ..self.config.run_events
                },
                &workers,
            );
            let queue = Arc::clone(&self.queue);
            let handler = crate::dispatch::broker_handler(ordered);
            let stop = background.clone();
            workers.spawn(async move { queue.consume_run_events(handler, stop).await });
        }
        // Held by the writers only: the recorder stops once the last dispatcher handle
        // is gone, so one kept here would hold up the shutdown.
        drop(delivery_link);
        // Not tied to `background`: the writers stop when the last request holding the
        // writer is done, so nothing accepted waits for an answer that never comes.
        let ingress_writer = IngressWriter::spawn(
            Arc::clone(&self.store),
            RelayLink {
                handoff,
                wake: Arc::clone(&relay_wake),
            },
            &self.config.ingress,
            &workers,
        );
        workers.close();
        let certificates = crate::ingress::CertificateFetcher::new(
            self.config.sns_certificate_origins.clone(),
            crate::delivery::SsrfPolicy::new(self.config.delivery_allow_cidrs.clone()),
            Arc::clone(&metrics),
        )
        .map_err(ServeError::CertificateClient)?;
        let state = AppState::new(Services {
            store: self.store,
            queue: self.queue,
            operator_token: self.operator_token,
            keyring: self.keyring,
            metrics: Arc::clone(&metrics),
            public_url,
            relay_wake,
            delivery_wake,
            ingress_writer,
            run_event_writer,
            trusted_proxies: self.config.trusted_proxies.clone(),
            metrics_elsewhere: self.config.metrics_listen.is_some(),
            run_wakes,
            certificates,
        });
        let metrics_server = metrics_listener.map(|metrics_listener| {
            if let Ok(address) = metrics_listener.local_addr() {
                tracing::info!(%address, "metrics listening");
            }
            tokio::spawn(http::serve(
                metrics_listener,
                http::metrics_router(state.clone()),
                self.config.edge,
                Arc::clone(&metrics),
                shutdown.clone(),
            ))
        });
        let router = http::router(state);
        let server = tokio::spawn(http::serve(
            listener,
            router,
            self.config.edge,
            Arc::clone(&metrics),
            shutdown.clone(),
        ));
        let drained = async {
            let served = flatten(server.await);
            if let Some(metrics_server) = metrics_server {
                let _ = flatten(metrics_server.await);
            }
            background.cancel();
            workers.wait().await;
            served
        };
        tokio::select! {
            result = drained => result,
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(self.config.shutdown_timeout).await;
            } => Err(ServeError::ShutdownTimeout),
        }
    }
}

/// The keyring of a current master key and retired ones (each base64 of 32 bytes).
pub fn keyring(current: &Secret, retired: &[Secret]) -> Result<Keyring, KeyringError> {
    let decode = |key: &Secret| MasterKey::from_base64(key.expose_str().unwrap_or_default());
    let retired = retired.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(Keyring::new(decode(current)?, retired))
}

fn flatten(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), ServeError> {
    match result {
        Ok(inner) => inner.map_err(ServeError::Io),
        Err(join) => Err(ServeError::Io(std::io::Error::other(join))),
    }
}
