//! The limit pipeline (`../shared/perf/limit-pipeline`) with hookgate's guarantees added
//! one at a time, to measure what each costs side by side with the plain one.
//!
//! env: LISTEN, PG_URL, AMQP_URL, QUEUE, SECRET, BATCH (64), BATCHERS (4), as the limit
//! pipeline; and SHAPE, a comma-separated list of what to add (none: the limit pipeline):
//! - `dedup`: a de-dup claim that expires and names the original event and run (SPEC
//!   §3.2), in a table of its own, instead of a unique index on the delivery id;
//! - `headers`: the event row keeps the request's headers, the event name and the
//!   source, with an index to list a source's events (the event log, SPEC §11);
//! - `run`: a run row per webhook, marked published after the broker's confirm (SPEC §4,
//!   `GET /v1/runs/{id}` and the lineage's `published_at`);
//! - `outbox`: the message written in the same transaction and deleted after the
//!   confirm (SPEC §3.3: nothing acknowledged is lost while the broker is away);
//! - `bytea`: the body stored as bytes, as hookgate stores it, not parsed into `jsonb`
//!   (a saving, not a guarantee: hookgate keeps bodies byte for byte);
//! - `message`: SPEC §4's message: the JSON run envelope around the body, through the
//!   `hookgate.runs`-like topic exchange with its routing key, `message_id` and the
//!   `traceparent`, `hookgate-org` and `hookgate-source` headers.
//!
//! It answers 202 only after the commit and the confirm, as the limit pipeline does, and
//! does the post-confirm writes after answering, as hookgate's relay does.
use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Empty};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{options::*, BasicProperties, Channel, Connection, ConnectionProperties};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::types::ToSql;

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

#[derive(Clone, Copy, Default)]
struct Shape {
    dedup: bool,
    headers: bool,
    run: bool,
    outbox: bool,
    message: bool,
    bytea: bool,
}

impl Shape {
    fn parse(text: &str) -> Shape {
        let mut shape = Shape::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "dedup" => shape.dedup = true,
                "headers" => shape.headers = true,
                "run" => shape.run = true,
                "outbox" => shape.outbox = true,
                "message" => shape.message = true,
                "bytea" => shape.bytea = true,
                "all" => {
                    shape = Shape {
                        dedup: true,
                        headers: true,
                        run: true,
                        outbox: true,
                        message: true,
                        bytea: true,
                    }
                }
                other => panic!("SHAPE: unknown part {other:?}"),
            }
        }
        shape
    }

    fn schema(&self) -> String {
        let unique = if self.dedup { "" } else { " UNIQUE" };
        let payload = if self.bytea { "bytea" } else { "jsonb" };
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS hg_limit_events(id bigserial PRIMARY KEY, delivery text{unique} NOT NULL, \
             payload {payload} NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), headers jsonb, event_name text, source_id text);"
        );
        if self.headers {
            sql.push_str("CREATE INDEX IF NOT EXISTS hg_limit_events_by_source ON hg_limit_events (source_id, id);");
        }
        if self.dedup {
            sql.push_str(
                "CREATE TABLE IF NOT EXISTS hg_limit_dedup(source_id text, dedup_key text, event_id text NOT NULL, \
                 run_id text NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (source_id, dedup_key));",
            );
        }
        if self.run {
            sql.push_str(
                "CREATE TABLE IF NOT EXISTS hg_limit_runs(id text PRIMARY KEY, org text NOT NULL, workflow_id text NOT NULL, \
                 event_id text NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, published_at timestamptz);\
                 CREATE INDEX IF NOT EXISTS hg_limit_runs_by_org ON hg_limit_runs (org, id);",
            );
        }
        if self.outbox {
            sql.push_str("CREATE TABLE IF NOT EXISTS hg_limit_outbox(run_id text PRIMARY KEY, message bytea NOT NULL);");
        }
        sql
    }

    /// The batch's one statement: $1 delivery ids, $2 bodies, then $3 headers (with
    /// `headers`) and the messages (with `outbox`).
    fn record_sql(&self) -> String {
        let mut next = 3;
        let headers_param = self.headers.then(|| {
            next += 1;
            next - 1
        });
        let message_param = self.outbox.then(|| {
            next += 1;
            next - 1
        });
        let mut ctes = Vec::new();
        if self.dedup {
            ctes.push(
                "claimed AS (INSERT INTO hg_limit_dedup (source_id, dedup_key, event_id, run_id, expires_at) \
                 SELECT 'src_bench', d, 'evt_' || d, 'run_' || d, now() + interval '1 day' FROM unnest($1::text[]) AS d \
                 ON CONFLICT (source_id, dedup_key) DO UPDATE SET event_id = EXCLUDED.event_id, run_id = EXCLUDED.run_id, \
                 expires_at = EXCLUDED.expires_at WHERE hg_limit_dedup.expires_at <= now() RETURNING dedup_key)"
                    .to_owned(),
            );
        }
        let claimed = if self.dedup {
            " WHERE t.d IN (SELECT dedup_key FROM claimed)"
        } else {
            ""
        };
        let (body_type, body_value) = if self.bytea {
            ("bytea", "p")
        } else {
            ("text", "p::jsonb")
        };
        let (columns, values, unnest) = match headers_param {
            Some(h) => (
                ", headers, event_name, source_id",
                ", h::jsonb, 'push', 'src_bench'",
                format!("unnest($1::text[], $2::{body_type}[], ${h}::text[]) AS t(d, p, h)"),
            ),
            None => (
                "",
                "",
                format!("unnest($1::text[], $2::{body_type}[]) AS t(d, p)"),
            ),
        };
        let conflict = if self.dedup {
            ""
        } else {
            " ON CONFLICT (delivery) DO NOTHING"
        };
        let events = format!(
            "INSERT INTO hg_limit_events (delivery, payload{columns}) SELECT d, {body_value}{values} FROM {unnest}{claimed}{conflict}"
        );
        if self.run {
            ctes.push(format!(
                "runs AS (INSERT INTO hg_limit_runs (id, org, workflow_id, event_id, status, created_at) \
                 SELECT 'run_' || t.d, 'bench', 'wf_bench', 'evt_' || t.d, 'queued', now() FROM unnest($1::text[]) AS t(d){claimed})"
            ));
        }
        if let Some(m) = message_param {
            ctes.push(format!(
                "outbox AS (INSERT INTO hg_limit_outbox (run_id, message) \
                 SELECT 'run_' || t.d, t.m FROM unnest($1::text[], ${m}::bytea[]) AS t(d, m){claimed})"
            ));
        }
        if ctes.is_empty() {
            events
        } else {
            format!("WITH {} {events}", ctes.join(", "))
        }
    }

    /// After the confirm: the outbox rows go, the runs are marked published.
    fn published_sql(&self) -> Option<&'static str> {
        match (self.run, self.outbox) {
            (true, true) => Some(
                "WITH gone AS (DELETE FROM hg_limit_outbox WHERE run_id = ANY($1)) \
                 UPDATE hg_limit_runs SET status = 'published', published_at = now() WHERE id = ANY($1)",
            ),
            (true, false) => Some("UPDATE hg_limit_runs SET status = 'published', published_at = now() WHERE id = ANY($1)"),
            (false, true) => Some("DELETE FROM hg_limit_outbox WHERE run_id = ANY($1)"),
            (false, false) => None,
        }
    }
}

struct Job {
    delivery: String,
    body: Bytes,
    headers: String,
    done: oneshot::Sender<bool>,
}

fn verify(secret: &[u8], sig: Option<&[u8]>, body: &[u8]) -> bool {
    let Some(hexsig) = sig.and_then(|s| s.strip_prefix(b"sha256=")) else {
        return false;
    };
    let mut raw = [0u8; 32];
    if hex::decode_to_slice(hexsig, &mut raw).is_err() {
        return false;
    }
    let mut m = <Hmac<sha2::Sha256>>::new_from_slice(secret).expect("any key length");
    m.update(body);
    m.verify_slice(&raw).is_ok()
}

/// The request's headers as a JSON object, as an event log keeps them.
fn headers_json(headers: &hyper::HeaderMap) -> String {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// SPEC §4's run message around the body.
fn run_message(run_id: &str, delivery: &str, body: &[u8]) -> Vec<u8> {
    let input: Box<serde_json::value::RawValue> = serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::value::RawValue::from_string("null".into()).expect("null"));
    let envelope = serde_json::json!({
        "run_id": run_id,
        "org": "bench",
        "workflow_id": "wf_bench",
        "trigger": {"type": "webhook", "source_id": "src_bench", "verifier": "github",
                    "event_id": format!("evt_{delivery}"), "received_at": "2026-12-07T05:00:00.000000Z"},
        "input": input,
        "headers": {"X-GitHub-Event": "push"},
    });
    serde_json::to_vec(&envelope).expect("serializable")
}

fn run_properties(run_id: &str) -> BasicProperties {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut headers = FieldTable::default();
    headers.insert(
        "traceparent".into(),
        AMQPValue::LongString(format!("00-{seq:032x}-{seq:016x}-01").into()),
    );
    headers.insert("hookgate-org".into(), AMQPValue::LongString("bench".into()));
    headers.insert(
        "hookgate-source".into(),
        AMQPValue::LongString("src_bench".into()),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_message_id(ShortString::from(run_id.to_owned()))
        .with_headers(headers)
}

async fn batcher(
    pool: deadpool_postgres::Pool,
    ch: Channel,
    queue: String,
    shape: Shape,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max: usize,
) {
    let record_sql = shape.record_sql();
    let exchange = if shape.message {
        format!("{queue}.x")
    } else {
        String::new()
    };
    let routing_key = if shape.message {
        "run.requested.wf_bench".to_owned()
    } else {
        queue.clone()
    };
    loop {
        let mut jobs = Vec::with_capacity(max);
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(j) => jobs.push(j),
                None => return,
            }
            while jobs.len() < max {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
        }
        let ids: Vec<&str> = jobs.iter().map(|j| j.delivery.as_str()).collect();
        let run_ids: Vec<String> = ids.iter().map(|d| format!("run_{d}")).collect();
        let bodies: Vec<&str> = jobs
            .iter()
            .map(|j| std::str::from_utf8(&j.body).unwrap_or("{}"))
            .collect();
        let raw_bodies: Vec<&[u8]> = jobs.iter().map(|j| j.body.as_ref()).collect();
        let headers: Vec<&str> = jobs.iter().map(|j| j.headers.as_str()).collect();
        let messages: Vec<Vec<u8>> = if shape.message {
            jobs.iter()
                .zip(&run_ids)
                .map(|(j, r)| run_message(r, &j.delivery, &j.body))
                .collect()
        } else {
            jobs.iter().map(|j| j.body.to_vec()).collect()
        };
        let stored = async {
            let client = pool.get().await.ok()?;
            let st = client.prepare_cached(&record_sql).await.ok()?;
            let body_param: &(dyn ToSql + Sync) = if shape.bytea { &raw_bodies } else { &bodies };
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ids, body_param];
            if shape.headers {
                params.push(&headers);
            }
            if shape.outbox {
                params.push(&messages);
            }
            client.execute(&st, &params).await.ok()
        }
        .await
        .is_some();
        let mut ok = stored;
        if stored {
            let mut confirms = Vec::with_capacity(jobs.len());
            for (message, run_id) in messages.iter().zip(&run_ids) {
                let props = if shape.message {
                    run_properties(run_id)
                } else {
                    BasicProperties::default().with_delivery_mode(2)
                };
                match ch
                    .basic_publish(
                        exchange.as_str().into(),
                        routing_key.as_str().into(),
                        BasicPublishOptions::default(),
                        message,
                        props,
                    )
                    .await
                {
                    Ok(c) => confirms.push(c),
                    Err(_) => ok = false,
                }
            }
            ok &= join_all(confirms)
                .await
                .into_iter()
                .all(|r| r.map(|c| c.is_ack()).unwrap_or(false));
        }
        for j in jobs {
            let _ = j.done.send(ok);
        }
        if let (true, Some(sql)) = (ok, shape.published_sql()) {
            let pool = pool.clone();
            tokio::spawn(async move {
                if let Ok(client) = pool.get().await {
                    if let Ok(st) = client.prepare_cached(sql).await {
                        let _ = client.execute(&st, &[&run_ids]).await;
                    }
                }
            });
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let shape = Shape::parse(&env("SHAPE", ""));
        let secret = env("SECRET", "limit-secret").into_bytes();
        let queue = env("QUEUE", "hg_limit_runs");
        let pg: tokio_postgres::Config = env("PG_URL", "postgres://postgres@127.0.0.1/postgres")
            .parse()
            .expect("PG_URL");
        let mgr = deadpool_postgres::Manager::new(pg, tokio_postgres::NoTls);
        let pool = deadpool_postgres::Pool::builder(mgr)
            .max_size(16)
            .build()
            .expect("pool");
        pool.get()
            .await
            .expect("postgres")
            .batch_execute(&shape.schema())
            .await
            .expect("create tables");
        let conn = Connection::connect(
            &env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ConnectionProperties::default(),
        )
        .await
        .expect("amqp");
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        let setup = conn.create_channel().await.expect("channel");
        setup
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                args,
            )
            .await
            .expect("queue");
        if shape.message {
            let exchange = format!("{queue}.x");
            setup
                .exchange_declare(
                    exchange.as_str().into(),
                    lapin::ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("exchange");
            setup
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    "run.requested.#".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("bind");
        }
        let (tx, rx) = mpsc::channel::<Job>(65536);
        let rx = Arc::new(Mutex::new(rx));
        let max: usize = env("BATCH", "64").parse().expect("BATCH");
        for _ in 0..env("BATCHERS", "4").parse::<usize>().expect("BATCHERS") {
            let ch = conn.create_channel().await.expect("channel");
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .expect("confirms");
            tokio::spawn(batcher(
                pool.clone(),
                ch,
                queue.clone(),
                shape,
                rx.clone(),
                max,
            ));
        }
        let secret: Arc<[u8]> = secret.into();
        let listener = tokio::net::TcpListener::bind(env("LISTEN", "127.0.0.1:18203"))
            .await
            .expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (tx, secret) = (tx.clone(), secret.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (tx, secret) = (tx.clone(), secret.clone());
                    async move {
                        let sig = req
                            .headers()
                            .get("x-hub-signature-256")
                            .map(|v| v.as_bytes().to_vec());
                        let delivery = req
                            .headers()
                            .get("x-github-delivery")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let headers = if shape.headers {
                            headers_json(req.headers())
                        } else {
                            String::new()
                        };
                        let body = req.into_body().collect().await?.to_bytes();
                        let status =
                            if delivery.is_empty() || !verify(&secret, sig.as_deref(), &body) {
                                StatusCode::UNAUTHORIZED
                            } else {
                                let (done, wait) = oneshot::channel();
                                let _ = tx
                                    .send(Job {
                                        delivery,
                                        body,
                                        headers,
                                        done,
                                    })
                                    .await;
                                if wait.await.unwrap_or(false) {
                                    StatusCode::ACCEPTED
                                } else {
                                    StatusCode::SERVICE_UNAVAILABLE
                                }
                            };
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .status(status)
                                .body(Empty::<Bytes>::new())
                                .expect("response"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}
