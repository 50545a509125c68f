//! The system under test: the real `hookgate` binary as a child process, in production
//! mode on a fresh database (`hookgate_bench_<random>`, dropped at the end) and a unique
//! exchange prefix, or in embedded mode on a fresh data dir. Also the REST calls that
//! set up what a run needs (org, source, endpoints), made as the operator.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use rand::RngCore;
use serde_json::{json, Value};

pub const ORG: &str = "bench";
pub const WORKFLOW: &str = "wf_bench";

#[derive(Clone)]
pub struct Options {
    pub hookgate: PathBuf,
    pub embedded: bool,
    pub postgres_admin_url: String,
    pub amqp_url: String,
    /// Extra `hookgate serve` flags.
    pub serve_args: Vec<String>,
    /// Keep the work dir (hookgate's log, embedded data) after the run.
    pub keep: bool,
}

pub enum Backend {
    Production {
        admin_url: String,
        database: String,
        database_url: String,
        amqp_url: String,
        prefix: String,
    },
    Embedded,
}

pub struct Stack {
    pub backend: Backend,
    pub url: String,
    pub addr: SocketAddr,
    pub pid: u32,
    pub operator_token: String,
    pub work_dir: PathBuf,
    child: Child,
    keep: bool,
    http: reqwest::Client,
    /// The `serve` flags it was started with, for more instances on the same backend.
    flags: Vec<String>,
    hookgate: PathBuf,
}

/// Another hookgate instance on a [`Stack`]'s database and exchanges.
pub struct Member {
    pub pid: u32,
    pub addr: SocketAddr,
    child: Child,
}

impl Member {
    /// SIGKILL: no shutdown, no flush, as a crashed or OOM-killed instance.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `hookgate` next to this binary (same target dir), else `target/release/hookgate`.
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hookgate")))
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("target/release/hookgate"))
}

pub async fn postgres(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {url}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// `postgres://…/postgres` with the database name replaced.
pub fn database_url(admin_url: &str, database: &str) -> anyhow::Result<String> {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let slash = base
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .ok_or_else(|| anyhow!("--postgres-admin-url needs a database path: {admin_url}"))?;
    let mut url = format!("{}/{database}", &base[..slash]);
    if let Some(query) = query {
        url = format!("{url}?{query}");
    }
    Ok(url)
}

impl Stack {
    pub async fn start(options: &Options) -> anyhow::Result<Self> {
        let tag = random_hex(4);
        let work_dir = std::env::temp_dir().join(format!("hookgate-load-{tag}"));
        std::fs::create_dir_all(&work_dir)?;
        let operator_token = format!("bench-operator-{}", random_hex(16));
        let mut master_key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut master_key);
        let master_key =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, master_key);

        let mut flags = vec![
            "serve".to_owned(),
            "--listen=127.0.0.1:0".to_owned(),
            format!("--operator-token={operator_token}"),
            format!("--master-key={master_key}"),
            "--delivery-allow-cidrs=127.0.0.1/32".to_owned(),
            "--shutdown-timeout=5s".to_owned(),
        ];
        let backend = if options.embedded {
            flags.push(format!("--data-dir={}", work_dir.join("data").display()));
            Backend::Embedded
        } else {
            let database = format!("hookgate_bench_{tag}");
            let admin = postgres(&options.postgres_admin_url).await?;
            admin
                .batch_execute(&format!("CREATE DATABASE {database}"))
                .await
                .with_context(|| format!("cannot create database {database}"))?;
            let database_url = database_url(&options.postgres_admin_url, &database)?;
            let prefix = format!("bench{tag}");
            flags.push(format!("--database-url={database_url}"));
            flags.push(format!("--amqp-url={}", options.amqp_url));
            flags.push(format!("--amqp-exchange-prefix={prefix}"));
            Backend::Production {
                admin_url: options.postgres_admin_url.clone(),
                database,
                database_url,
                amqp_url: options.amqp_url.clone(),
                prefix,
            }
        };
        flags.extend(options.serve_args.iter().cloned());

        let spawned = spawn(&options.hookgate, &flags, &work_dir).await;
        let (child, url) = match spawned {
            Ok(started) => started,
            Err(error) => {
                drop_backend(&backend).await;
                return Err(error);
            }
        };
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("unexpected listen URL {url}"))?;
        let stack = Self {
            backend,
            url,
            addr,
            pid: child.id(),
            operator_token,
            work_dir,
            child,
            keep: options.keep,
            http: reqwest::Client::new(),
            flags,
            hookgate: options.hookgate.clone(),
        };
        stack
            .post(
                "/v1/orgs",
                json!({"slug": ORG, "name": "hookgate-load"}),
                201,
            )
            .await?;
        Ok(stack)
    }

    pub fn mode_name(&self) -> &'static str {
        match self.backend {
            Backend::Production { .. } => "production",
            Backend::Embedded => "embedded",
        }
    }

    pub fn database(&self) -> Option<&str> {
        match &self.backend {
            Backend::Production { database, .. } => Some(database),
            Backend::Embedded => None,
        }
    }

    pub fn prefix(&self) -> Option<&str> {
        match &self.backend {
            Backend::Production { prefix, .. } => Some(prefix),
            Backend::Embedded => None,
        }
    }

    /// The path of hookgate's log (its stderr).
    pub fn log_path(&self) -> PathBuf {
        self.work_dir.join("hookgate.log")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.work_dir.join("data").join("hookgate.db")
    }

    /// POSTs `body` as the operator; fails unless the answer has status `expect`.
    pub async fn post(&self, path: &str, body: Value, expect: u16) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.operator_token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != expect {
            bail!("POST {path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Creates a GitHub source with `secret`; returns its id.
    pub async fn github_source(&self, secret: &str) -> anyhow::Result<String> {
        let reply = self
            .post(
                &format!("/v1/orgs/{ORG}/sources"),
                json!({"name": "gh-bench", "workflow_id": WORKFLOW,
                       "verifier": {"type": "github"}, "secret": secret}),
                201,
            )
            .await?;
        text(&reply["source"]["id"])
    }

    /// Creates an endpoint for every event; returns (id, whsec_ secret).
    pub async fn endpoint(&self, url: &str) -> anyhow::Result<(String, String)> {
        let reply = self
            .post(
                &format!("/v1/orgs/{ORG}/endpoints"),
                json!({"url": url, "description": "hookgate-load receiver"}),
                201,
            )
            .await?;
        Ok((text(&reply["endpoint"]["id"])?, text(&reply["secret"])?))
    }

    /// Starts one more instance on the same database and exchanges with `--roles=roles`
    /// (production mode; its log is `<work dir>/<name>/hookgate.log`).
    pub async fn join(&self, name: &str, roles: &str) -> anyhow::Result<Member> {
        let work_dir = self.work_dir.join(name);
        std::fs::create_dir_all(&work_dir)?;
        let mut flags: Vec<String> = self
            .flags
            .iter()
            .filter(|flag| !flag.starts_with("--roles=") && !flag.starts_with("--data-dir="))
            .cloned()
            .collect();
        flags.push(format!("--roles={roles}"));
        let (child, url) = spawn(&self.hookgate, &flags, &work_dir).await?;
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("unexpected listen URL {url}"))?;
        Ok(Member {
            pid: child.id(),
            addr,
            child,
        })
    }

    /// Whether hookgate is still running (it must not die under load).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM and wait for hookgate, then drop the database and the broker objects.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let mut exited = None;
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                exited = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            eprintln!("hookgate-load: hookgate did not stop within 10 s of SIGTERM; killed");
        }
        drop_backend(&self.backend).await;
        if self.keep {
            eprintln!(
                "hookgate-load: kept {} (hookgate's log: {})",
                self.work_dir.display(),
                self.log_path().display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
        Ok(())
    }
}

fn text(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("missing field in {value}"))
}

/// Starts `hookgate <flags>` and waits for its "listening on" banner.
async fn spawn(
    binary: &Path,
    flags: &[String],
    work_dir: &Path,
) -> anyhow::Result<(Child, String)> {
    let log_path = work_dir.join("hookgate.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = Command::new(binary)
        .args(flags)
        .current_dir(work_dir)
        .env_remove("HOOKGATE_DATABASE_URL")
        .env_remove("HOOKGATE_AMQP_URL")
        .env_remove("HOOKGATE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| {
            format!(
                "cannot run {} (build it: cargo build --release)",
                binary.display()
            )
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout pipe"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        // Keep draining so hookgate never blocks on a full pipe.
        for _ in lines {}
    });
    let banner = tokio::time::timeout(Duration::from_secs(60), rx).await;
    let url = banner.ok().and_then(Result::ok).flatten().and_then(|line| {
        line.strip_prefix("hookgate listening on ")
            .map(str::to_owned)
    });
    match url {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("hookgate did not start; its log:\n{}", tail.join("\n"))
        }
    }
}

async fn drop_backend(backend: &Backend) {
    let Backend::Production {
        admin_url,
        database,
        amqp_url,
        prefix,
        ..
    } = backend
    else {
        return;
    };
    if let Ok(admin) = postgres(admin_url).await {
        if let Err(error) = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .await
        {
            eprintln!("hookgate-load: cannot drop database {database}: {error}");
        }
    }
    if let Ok(connection) = crate::consumer::connect(amqp_url).await {
        if let Ok(channel) = connection.create_channel().await {
            // hookgate's own run-events queue (quorum): left behind, such queues pile
            // up in the shared broker.
            let _ = channel
                .queue_delete(&format!("{prefix}.run-events.hookgate"), Default::default())
                .await;
            for suffix in ["runs", "run-events"] {
                let _ = channel
                    .exchange_delete(&format!("{prefix}.{suffix}"), Default::default())
                    .await;
            }
        }
        let _ = connection.close(0, "hookgate-load done").await;
    }
}

/// Counters of the bench database from `pg_stat_database`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgStats {
    pub commits: i64,
    pub rollbacks: i64,
    pub returned: i64,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
}

impl PgStats {
    /// "commits 3.0, rows inserted 4.0, …" per `n` (e.g. per 2xx answer) since `before`.
    pub fn per(&self, before: &PgStats, n: u64) -> String {
        let n = n.max(1) as f64;
        let per = |a: i64, b: i64| (a - b) as f64 / n;
        format!(
            "commits {:.1}, rollbacks {:.2}, rows inserted {:.1}, updated {:.1}, deleted {:.1}, returned {:.1}, fetched {:.1}",
            per(self.commits, before.commits),
            per(self.rollbacks, before.rollbacks),
            per(self.inserted, before.inserted),
            per(self.updated, before.updated),
            per(self.deleted, before.deleted),
            per(self.returned, before.returned),
            per(self.fetched, before.fetched),
        )
    }
}

/// The bench database's counters (production mode). Backends report them at most once a
/// second, so read them a moment after the load.
pub async fn pg_stats(stack: &Stack) -> anyhow::Result<Option<PgStats>> {
    let Backend::Production {
        admin_url,
        database,
        ..
    } = &stack.backend
    else {
        return Ok(None);
    };
    let admin = postgres(admin_url).await?;
    let row = admin
        .query_one(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, \
             tup_updated, tup_deleted FROM pg_stat_database WHERE datname = $1",
            &[database],
        )
        .await?;
    Ok(Some(PgStats {
        commits: row.get(0),
        rollbacks: row.get(1),
        returned: row.get(2),
        fetched: row.get(3),
        inserted: row.get(4),
        updated: row.get(5),
        deleted: row.get(6),
    }))
}

/// Rows in `delivery_attempts` of the bench database (or the embedded store).
pub async fn attempt_rows(stack: &Stack) -> anyhow::Result<i64> {
    count(stack, "SELECT count(*) FROM delivery_attempts").await
}

pub async fn count(stack: &Stack, sql: &str) -> anyhow::Result<i64> {
    match &stack.backend {
        Backend::Production { database_url, .. } => {
            let client = postgres(database_url).await?;
            Ok(client.query_one(sql, &[]).await?.get(0))
        }
        Backend::Embedded => {
            let path = stack.sqlite_path();
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                anyhow::Ok(conn.query_row(&sql, [], |row| row.get(0))?)
            })
            .await?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_the_path_and_keeps_the_query() {
        let check = |admin: &str, want: &str| {
            assert_eq!(database_url(admin, "hb").unwrap(), want);
        };
        check(
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://postgres@127.0.0.1:5432/hb",
        );
        check(
            "postgres://u:p@db/postgres?sslmode=disable",
            "postgres://u:p@db/hb?sslmode=disable",
        );
        assert!(database_url("postgres://db", "hb").is_err());
    }
}
