use hookgate::cli::{Cli, Command};
use hookgate::config::Config;
use hookgate::server::{App, ServeError};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    Production,
}

/// The real server on 127.0.0.1:0 with its own isolated state.
pub struct TestServer {
    pub url: String,
    pub exchange_prefix: Option<String>,
    client: reqwest::Client,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<Result<(), ServeError>>>,
    data_dir: Option<tempfile::TempDir>,
    /// The `serve` flags, to restart on the same state.
    flags: Vec<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn config(flags: &[String]) -> Config {
    let argv = ["hookgate".to_owned(), "serve".to_owned()]
        .into_iter()
        .chain(flags.iter().cloned());
    let Command::Serve(args) = <Cli as clap::Parser>::try_parse_from(argv).unwrap().command else {
        unreachable!()
    };
    Config::from_args(&args).unwrap()
}

impl TestServer {
    pub async fn start(mode: Mode) -> Self {
        match mode {
            Mode::Embedded => Self::embedded().await,
            Mode::Production => Self::production(super::AMQP_URL).await,
        }
    }

    pub async fn embedded() -> Self {
        Self::embedded_with(&[]).await
    }

    /// Embedded mode with extra `serve` flags.
    pub async fn embedded_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut flags = vec![
            format!("--data-dir={}", dir.path().display()),
            format!("--operator-token={OPERATOR_TOKEN}"),
            "--shutdown-timeout=5s".to_owned(),
        ];
        flags.extend(extra.iter().map(|f| f.to_string()));
        Self::launch(config(&flags), Some(dir), flags, None).await
    }

    /// Either mode with extra `serve` flags.
    pub async fn start_with(mode: Mode, extra: &[&str]) -> Self {
        match mode {
            Mode::Embedded => Self::embedded_with(extra).await,
            Mode::Production => {
                let database = super::postgres_url().await;
                Self::production_flags(&database, super::AMQP_URL, &super::amqp_prefix(), extra)
                    .await
            }
        }
    }

    /// Stops this server and starts a new one on the same state (data dir, or schema
    /// and exchanges), like a process restart.
    pub async fn restart(mut self) -> Self {
        self.shutdown.cancel();
        self.handle.take().unwrap().await.unwrap().unwrap();
        let (flags, data_dir, prefix) = (
            self.flags.clone(),
            self.data_dir.take(),
            self.exchange_prefix.take(),
        );
        Self::launch(config(&flags), data_dir, flags, prefix).await
    }

    /// Stops this server and starts a new one on the same state with its `serve` flags
    /// changed by `change`, which also gets the data dir (embedded mode) between the
    /// two, to change the files in it. Returns what building the new one returned.
    pub async fn restart_with(
        mut self,
        change: impl FnOnce(&mut Vec<String>, Option<&std::path::Path>),
    ) -> Result<Self, ServeError> {
        self.shutdown.cancel();
        self.handle.take().unwrap().await.unwrap().unwrap();
        let (mut flags, data_dir, prefix) = (
            self.flags.clone(),
            self.data_dir.take(),
            self.exchange_prefix.take(),
        );
        change(&mut flags, data_dir.as_ref().map(|d| d.path()));
        let built = Self::try_launch(config(&flags), data_dir, flags, prefix.clone()).await;
        if let (Err(_), Some(prefix)) = (&built, prefix) {
            delete_exchanges(&prefix).await;
        }
        built
    }

    /// Graceful stop that keeps the embedded data dir, for a command to use it next.
    pub async fn stop_keeping_data_dir(mut self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        self.handle.take().unwrap().await.unwrap().unwrap();
        if let Some(prefix) = self.exchange_prefix.take() {
            delete_exchanges(&prefix).await;
        }
        self.data_dir.take()
    }

    /// The value of a `--name=value` flag this server was started with.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let prefix = format!("--{name}=");
        self.flags
            .iter()
            .find_map(|f| f.strip_prefix(prefix.as_str()))
    }

    /// The data dir of an embedded server.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.data_dir.as_ref().map(|d| d.path())
    }

    /// Production mode against the real PostgreSQL and the broker at `amqp_url`
    /// (the real one, or a [`super::TcpProxy`] in front of it).
    pub async fn production(amqp_url: &str) -> Self {
        Self::production_with_database(&super::postgres_url().await, amqp_url).await
    }

    pub async fn production_with_database(database_url: &str, amqp_url: &str) -> Self {
        Self::production_shared(database_url, amqp_url, &super::amqp_prefix()).await
    }

    /// Production mode on a given schema and exchange prefix: several instances
    /// started this way share one PostgreSQL and one RabbitMQ topology.
    pub async fn production_shared(database_url: &str, amqp_url: &str, prefix: &str) -> Self {
        Self::production_flags(database_url, amqp_url, prefix, &[]).await
    }

    /// Production mode on a shared schema and prefix, with extra flags.
    pub async fn production_flags_pub(database_url: &str, prefix: &str, extra: &[&str]) -> Self {
        Self::production_flags(database_url, super::AMQP_URL, prefix, extra).await
    }

    async fn production_flags(
        database_url: &str,
        amqp_url: &str,
        prefix: &str,
        extra: &[&str],
    ) -> Self {
        let prefix = prefix.to_owned();
        let mut flags = vec![
            format!("--database-url={database_url}"),
            format!("--amqp-url={amqp_url}"),
            format!("--amqp-exchange-prefix={prefix}"),
            format!("--operator-token={OPERATOR_TOKEN}"),
            format!("--master-key={MASTER_KEY}"),
            "--db-pool-size=4".to_owned(),
            "--shutdown-timeout=5s".to_owned(),
            // Classic: tests create and drop one per server; quorum queues are heavy.
            "--amqp-queue-type=classic".to_owned(),
        ];
        flags.extend(extra.iter().map(|f| f.to_string()));
        Self::launch(config(&flags), None, flags, Some(prefix)).await
    }

    async fn launch(
        config: Config,
        data_dir: Option<tempfile::TempDir>,
        flags: Vec<String>,
        exchange_prefix: Option<String>,
    ) -> Self {
        Self::try_launch(config, data_dir, flags, exchange_prefix)
            .await
            .unwrap()
    }

    async fn try_launch(
        config: Config,
        data_dir: Option<tempfile::TempDir>,
        flags: Vec<String>,
        exchange_prefix: Option<String>,
    ) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = App::build(config).await?;
        let url = app.public_url(&listener);
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.serve(listener, shutdown.clone()));
        Ok(Self {
            url,
            exchange_prefix,
            client: reqwest::Client::new(),
            shutdown,
            handle: Some(handle),
            data_dir,
            flags,
        })
    }

    /// A handle on a server running elsewhere (a child process), for the request
    /// helpers; dropping it deletes the broker objects of `exchange_prefix`.
    pub fn external(url: &str, exchange_prefix: Option<String>) -> Self {
        Self {
            url: url.to_owned(),
            exchange_prefix,
            client: reqwest::Client::new(),
            shutdown: CancellationToken::new(),
            handle: None,
            data_dir: None,
            flags: Vec::new(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn create_org(&self, slug: &str) {
        let reply = self
            .post(
                "/v1/orgs",
                OPERATOR_TOKEN,
                serde_json::json!({"slug": slug, "name": slug}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }

    /// Mints a key with `scopes` in `org`; returns the key.
    pub async fn mint_key(&self, org: &str, scopes: &[&str]) -> String {
        let reply = self
            .post(
                &format!("/v1/orgs/{org}/api-keys"),
                OPERATOR_TOKEN,
                serde_json::json!({"name": "test", "scopes": scopes}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["key"].as_str().unwrap().to_owned()
    }

    /// Creates a source; returns (source id, secret).
    pub async fn create_source(&self, org: &str, body: Value) -> (String, String) {
        let reply = self
            .post(&format!("/v1/orgs/{org}/sources"), OPERATOR_TOKEN, body)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (
            reply.body["source"]["id"].as_str().unwrap().to_owned(),
            reply.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a webhook with exactly these headers and body.
    pub async fn send_webhook(
        &self,
        source_id: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/v1/ingress/{source_id}", self.url))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Graceful stop; returns what `serve` returned.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown.cancel();
        let result = self.handle.take().unwrap().await.unwrap();
        if let Some(prefix) = self.exchange_prefix.take() {
            delete_exchanges(&prefix).await;
        }
        result
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // A test that panicked never reached stop(): still drop its broker objects,
        // so failed runs do not pile queues up in the shared broker.
        if let Some(prefix) = self.exchange_prefix.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(delete_exchanges(&prefix));
                }
            })
            .join();
        }
    }
}

/// Deletes the exchanges and hookgate's run-events queue of a test's prefix.
pub async fn delete_exchanges(prefix: &str) {
    let Ok(connection) =
        lapin::Connection::connect(super::AMQP_URL, lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        let _ = channel
            .queue_delete(&format!("{prefix}.run-events.hookgate"), Default::default())
            .await;
        for suffix in ["runs", "run-events"] {
            let _ = channel
                .exchange_delete(&format!("{prefix}.{suffix}"), Default::default())
                .await;
        }
    }
    let _ = connection.close(0, "test done").await;
}
