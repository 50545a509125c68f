use anyhow::Context;
use hookgate::cli::{self, Command};
use hookgate::config::{Config, LogFormat, MigrateArgs, ServeArgs};
use hookgate::server::App;
use hookgate::store::{migrate_postgres, EmbeddedStore};
use hookgate::telemetry::Telemetry;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::parse(std::env::args_os().collect())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Migrate(args) => runtime.block_on(migrate(args)),
        Command::Rekey(args) => {
            init_logging(LogFormat::Text);
            if let Err(error) = runtime.block_on(cli::rekey::run(args)) {
                eprintln!("hookgate: {error:#}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Completions { shell } => {
            use std::io::Write;
            match std::io::stdout().write_all(&cli::completions(shell)) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(error).context("cannot write the completion script")
                }
                _ => Ok(()),
            }
        }
        Command::Operator(command) => {
            // One line naming the cause chain: an operator reads it, not a developer.
            if let Err(error) = runtime.block_on(cli::run(command)) {
                eprintln!("hookgate: {error:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Logs only, for the commands that do not serve.
fn init_logging(format: LogFormat) {
    // Fails only if a logger is already installed: then that one logs.
    let _ = Telemetry::install(format, None);
}

/// How long a graceful shutdown waits for the last spans to reach the collector.
const TRACE_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(&args)?;
    let log_format = config.log_format;
    let telemetry = Telemetry::install(log_format, config.otlp.as_ref())
        .context("cannot start logging and trace export")?;
    // Before anything is announced: a SIGTERM sent as soon as the server answers must
    // still find the handler, not the default action (killed mid-request).
    let signals = ShutdownSignals::register().context("cannot listen for SIGTERM/SIGINT")?;
    let listen = config.listen;
    let app = App::build(config)
        .await
        .context("cannot start hookgate")?
        .with_spans_dropped(telemetry.dropped());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (HOOKGATE_LISTEN)"))?;
    let url = app.public_url(&listener);
    match log_format {
        LogFormat::Text => print_banner(&app, &url),
        LogFormat::Json => print_json_banner(&app, &url),
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(signals.cancel_on_first(shutdown.clone()));
    let served = app.serve(listener, shutdown).await;
    telemetry.shutdown(TRACE_FLUSH_TIMEOUT).await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The start banner for a terminal: the URL, the console's, and a new operator token
/// shown once.
fn print_banner(app: &App, url: &str) {
    println!("hookgate listening on {url}");
    println!("console: {url}/console (sign in with the operator token or an API key)");
    if let Some(token) = &app.new_operator_token {
        println!(
            "operator token (shown once; also stored in {}):\n  {}",
            app.operator_token_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            token.expose_str().unwrap_or_default()
        );
    } else if let Some(path) = &app.operator_token_path {
        println!("operator token: see {}", path.display());
    } else {
        println!("operator token: configured (HOOKGATE_OPERATOR_TOKEN)");
    }
}

/// The start banner under `HOOKGATE_LOG_FORMAT=json`: one JSON object per line, like
/// the logs. JSON output is collected by machines, so a new operator token is not
/// printed: the banner names the file (mode 0600) that holds it.
fn print_json_banner(app: &App, url: &str) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let token_path = app
        .operator_token_path
        .as_deref()
        .map(|p| p.display().to_string());
    let operator_token = match (&app.new_operator_token, &token_path) {
        (Some(_), Some(path)) => format!("generated into {path}"),
        (_, Some(path)) => format!("see {path}"),
        (_, None) => "configured (HOOKGATE_OPERATOR_TOKEN)".to_owned(),
    };
    let line = serde_json::json!({
        "timestamp": now,
        "level": "INFO",
        "message": "hookgate listening",
        "url": url,
        "console_url": format!("{url}/console"),
        "operator_token": operator_token,
    });
    println!("{line}");
}

/// SIGTERM and SIGINT, caught from the moment they are registered.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Cancels `shutdown` on the first of them.
    async fn cancel_on_first(mut self, shutdown: CancellationToken) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
        shutdown.cancel();
    }
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    match args.database_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => {
            let applied = migrate_postgres(url).await.context("migration failed")?;
            println!("applied migrations: {applied:?}");
        }
        None => {
            hookgate::bootstrap::ensure_data_dir(&args.data_dir)?;
            EmbeddedStore::open(&args.data_dir).context("migration failed")?;
            println!(
                "embedded store in {} is up to date",
                args.data_dir.display()
            );
        }
    }
    Ok(())
}
