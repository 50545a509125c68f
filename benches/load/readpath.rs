//! `readpath`: SPEC §10's read-path target (lists, lineage and console pages at p99 ≤
//! 50 ms server time with 2 M ingress events, 1 M runs and 5 M delivery attempts).
//!
//! It starts hookgate in production mode, creates orgs, sources and endpoints through
//! the REST API (so their secrets are sealed as in any deployment), then fills the
//! tables behind them with set-based SQL (`INSERT … SELECT` over `generate_series`;
//! the HTTP path would take hours for 5 M attempts), vacuums and analyses them, and
//! times each read shape over HTTP against the running server. Last, it prints the plan
//! of the SQL behind each shape (`EXPLAIN (ANALYZE, BUFFERS)`), flagging any sequential
//! scan of a large table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::report::{line, section};
use crate::stack::{self, Backend, Options, Stack, ORG};

pub struct Args {
    pub events: u64,
    pub runs: u64,
    pub attempts: u64,
    pub audit: u64,
    /// Days the timestamps are spread over, ending a few minutes before the fill.
    pub days: u64,
    /// Timed requests per shape (after a few untimed ones).
    pub requests: usize,
}

/// The target of SPEC §10.
const TARGET_MS: f64 = 50.0;
/// Untimed requests per shape first: a pooled connection prepares a statement once.
const WARMUP: usize = 5;
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Bodies older than this are expired, as `HOOKGATE_PAYLOAD_RETENTION`'s default.
const RETENTION_DAYS: u64 = 7;
/// Mean attempts per delivery of the distribution in `DELIVERIES_SQL`
/// (55 % one, 20 % two, 12 % three, 8 % four, 5 % five).
const MEAN_ATTEMPTS: f64 = 1.88;

/// The orgs besides `stack::ORG` and each org's sources (weight in % of all events)
/// and endpoints. The first org gets 70 % of the events: the one the reads measure.
const LAYOUT: &[(&str, &[u32], usize)] = &[
    (ORG, &[25, 15, 12, 8, 6, 4], 3),
    ("bench-b", &[10, 8, 4], 2),
    ("bench-c", &[5, 3], 1),
];

/// Tables whose sequential scan is a finding.
const BIG_TABLES: &[&str] = &[
    "events",
    "runs",
    "run_events",
    "deliveries",
    "delivery_attempts",
    "audit_log",
];

pub async fn run(options: &Options, args: &Args) -> anyhow::Result<()> {
    if options.embedded {
        bail!("readpath measures production mode (PostgreSQL) only; drop --embedded");
    }
    if args.events == 0 || args.runs == 0 || args.requests == 0 {
        bail!("--events, --runs and --requests must be at least 1");
    }
    let mut stack = Stack::start(options).await?;
    let result = measure(&mut stack, args).await;
    if let Some(status) = stack.exit_status() {
        eprintln!("hookgate-load: hookgate exited during the run: {status}");
    }
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &mut Stack, args: &Args) -> anyhow::Result<()> {
    let Backend::Production { database_url, .. } = &stack.backend else {
        bail!("readpath needs production mode");
    };
    let db = stack::postgres(database_url).await?;
    section("readpath setup");
    line("mode", stack.mode_name());
    let layout = create_objects(stack, &db).await?;
    line(
        "orgs / sources / endpoints (REST)",
        format!(
            "{} / {} / {}",
            LAYOUT.len(),
            layout.sources.len(),
            layout.endpoints.len()
        ),
    );

    section("fill (set-based SQL)");
    let started = Instant::now();
    fill(&db, args, &layout).await?;
    let filled = started.elapsed();
    let started = Instant::now();
    for table in BIG_TABLES {
        db.batch_execute(&format!("VACUUM (ANALYZE) {table}"))
            .await
            .with_context(|| format!("VACUUM {table}"))?;
    }
    let vacuumed = started.elapsed();
    line("fill", format!("{:.1} s", filled.as_secs_f64()));
    line(
        "VACUUM (ANALYZE)",
        format!("{:.1} s", vacuumed.as_secs_f64()),
    );
    line(
        "fill + vacuum",
        format!("{:.1} s", (filled + vacuumed).as_secs_f64()),
    );
    for table in BIG_TABLES {
        let row = db
            .query_one(
                &format!(
                    "SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}"
                ),
                &[],
            )
            .await?;
        let (rows, size): (i64, String) = (row.get(0), row.get(1));
        line(&format!("rows {table}"), format!("{rows} ({size})"));
    }
    let sum: Option<i64> = db
        .query_one("SELECT sum(attempts)::int8 FROM deliveries", &[])
        .await?
        .get(0);
    line("sum of deliveries.attempts", sum.unwrap_or(0));

    let samples = Samples::load(&db, args).await?;
    let shapes = shapes(&samples, args.requests)?;

    section(format!(
        "read paths over HTTP (org {ORG}; {WARMUP} untimed + {} timed requests per shape, one at a time)",
        args.requests
    ));
    let http = reqwest::Client::new();
    let mut misses = Vec::new();
    let mut rows = Vec::new();
    for shape in &shapes {
        let timing = time_shape(stack, &http, shape).await?;
        let flag = if timing.p99 > TARGET_MS {
            misses.push(shape.name);
            "  ✗ p99 > 50 ms"
        } else {
            ""
        };
        line(
            shape.name,
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} rows/answer{flag}",
                timing.p50, timing.p99, timing.max, timing.rows
            ),
        );
        rows.push((shape.name, timing));
    }
    section("read paths: markdown");
    println!("| shape | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (name, t) in &rows {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            t.p50, t.p99, t.max
        );
    }
    line(
        "shapes over 50 ms p99",
        if misses.is_empty() {
            "none".to_owned()
        } else {
            misses.join(", ")
        },
    );

    section("plans (EXPLAIN (ANALYZE, BUFFERS) of the SQL behind each shape)");
    let mut seq_scans = Vec::new();
    for query in queries(&samples) {
        let plan = explain(&db, &query).await?;
        let scans = plan_scans(&plan);
        let seq: Vec<&String> = scans
            .iter()
            .filter(|s| {
                s.starts_with("Seq Scan on ")
                    && BIG_TABLES
                        .iter()
                        .any(|t| s.trim_start_matches("Seq Scan on ").starts_with(t))
            })
            .collect();
        let time = plan
            .iter()
            .find_map(|l| l.trim().strip_prefix("Execution Time: "))
            .unwrap_or("?");
        line(
            query.name,
            format!(
                "{time}; {}{}",
                scans.join(", "),
                if seq.is_empty() {
                    ""
                } else {
                    "  ✗ seq scan of a large table"
                }
            ),
        );
        for node in plan.iter().take(4) {
            println!("    {node}");
        }
        if !seq.is_empty() {
            seq_scans.push(query.name);
        }
    }
    line(
        "plans with a seq scan of a large table",
        if seq_scans.is_empty() {
            "none".to_owned()
        } else {
            seq_scans.join(", ")
        },
    );
    Ok(())
}

/// What the REST API created: (org, source id, secret id, workflow, weight) and
/// (org, endpoint id, url).
struct Layout {
    sources: Vec<(String, String, String, String, u32)>,
    endpoints: Vec<(String, String, String)>,
}

async fn create_objects(stack: &Stack, db: &Client) -> anyhow::Result<Layout> {
    let mut layout = Layout {
        sources: Vec::new(),
        endpoints: Vec::new(),
    };
    for (index, (org, weights, endpoints)) in LAYOUT.iter().enumerate() {
        if *org != ORG {
            stack
                .post("/v1/orgs", json!({"slug": org, "name": org}), 201)
                .await?;
        }
        for (k, weight) in weights.iter().enumerate() {
            let workflow = format!("wf_{index}_{k}");
            let reply = stack
                .post(
                    &format!("/v1/orgs/{org}/sources"),
                    json!({"name": format!("github-{k}"), "workflow_id": workflow,
                           "verifier": {"type": "github"},
                           "secret": stack::random_hex(16)}),
                    201,
                )
                .await?;
            let id = text(&reply["source"]["id"])?;
            let secret: String = db
                .query_one("SELECT id FROM secrets WHERE owner_id = $1", &[&id])
                .await?
                .get(0);
            layout
                .sources
                .push((org.to_string(), id, secret, workflow, *weight));
        }
        for k in 0..*endpoints {
            // Port 9 (discard) on loopback: nothing is due, so nothing is sent there.
            let url = format!("http://127.0.0.1:9/{org}/hooks/{k}");
            let reply = stack
                .post(
                    &format!("/v1/orgs/{org}/endpoints"),
                    json!({"url": url, "description": format!("backend {k}")}),
                    201,
                )
                .await?;
            layout
                .endpoints
                .push((org.to_string(), text(&reply["endpoint"]["id"])?, url));
        }
    }
    Ok(layout)
}

fn text(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("missing field in {value}"))
}

/// SQL for the low `5 × chars` bits of `value` (a bigint expression) in Crockford
/// base32, most significant first: the digits of hookgate's ids (`src/id.rs`).
fn base32(value: &str, chars: u32) -> String {
    (0..chars)
        .map(|k| {
            let shift = 5 * (chars - 1 - k);
            format!("substr('{CROCKFORD}', ((({value}) >> {shift}) & 31)::int + 1, 1)")
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

/// `pg_temp.bid(prefix, ms, n)`: an id as hookgate mints them (48-bit millisecond time,
/// then 80 bits), whose last 40 bits are `n` itself, so ids of distinct `n` differ;
/// `pg_temp.u(i, seed)`: a uniform 0..9999 from a hash, for the distributions.
fn helper_sql() -> String {
    format!(
        "CREATE FUNCTION pg_temp.bid(p text, ms bigint, n bigint) RETURNS text
             LANGUAGE sql IMMUTABLE AS $$ SELECT p || '_' || {} || {} || {} $$;
         CREATE FUNCTION pg_temp.u(i bigint, seed bigint) RETURNS int
             LANGUAGE sql IMMUTABLE AS
             $$ SELECT ((hashint8extended(i, seed) & 2147483647) % 10000)::int $$;",
        base32("ms", 10),
        base32("hashint8extended(n, 0)", 8),
        base32("n", 8),
    )
}

/// Run timelines by outcome: (variant, seq, type, ms after the run was created).
const TEMPLATES: &[(&str, i32, &str, i64)] = &[
    ("completed3", 1, "run.started", 1_200),
    ("completed3", 2, "step.completed", 15_000),
    ("completed3", 3, "run.completed", 31_000),
    ("completed4", 1, "run.started", 1_200),
    ("completed4", 2, "step.completed", 15_000),
    ("completed4", 3, "step.completed", 42_000),
    ("completed4", 4, "run.completed", 61_000),
    ("failed", 1, "run.started", 1_300),
    ("failed", 2, "step.completed", 12_000),
    ("failed", 3, "step.failed", 25_000),
    ("failed", 4, "run.failed", 25_500),
    ("cancelled", 1, "run.started", 1_100),
    ("cancelled", 2, "run.cancelled", 8_000),
    ("running", 1, "run.started", 1_000),
    ("running", 2, "step.completed", 9_000),
];

async fn step(db: &Client, name: &str, sql: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    db.batch_execute(sql)
        .await
        .with_context(|| format!("fill step {name}"))?;
    line(
        &format!("fill {name}"),
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

async fn fill(db: &Client, args: &Args, layout: &Layout) -> anyhow::Result<()> {
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )?;
    let span = i64::try_from(args.days.max(1) * 86_400_000)?;
    // The newest event a few minutes back: the newest runs' timelines (up to a minute
    // long) then end before now.
    let t0 = now_ms - span - 300_000;
    let expired_before = now_ms - i64::try_from(RETENTION_DAYS * 86_400_000)?;
    let (events, runs, attempts, audit) = (
        i64::try_from(args.events)?,
        i64::try_from(args.runs)?,
        i64::try_from(args.attempts)?,
        i64::try_from(args.audit)?,
    );

    db.batch_execute(
        "SET synchronous_commit = off; SET work_mem = '256MB';
         SET maintenance_work_mem = '1GB'; SET temp_buffers = '1GB';",
    )
    .await?;
    db.batch_execute(&helper_sql()).await?;
    db.batch_execute(
        "CREATE TEMP TABLE b_src (k int PRIMARY KEY, org text, id text, secret_id text,
                                  workflow_id text);
         CREATE TEMP TABLE b_ep (org text, n int, id text, url text, PRIMARY KEY (org, n));
         CREATE TEMP TABLE b_tpl (variant text, seq int, type text, offset_ms int8);",
    )
    .await?;
    // 100 slots, each naming a source: a source with weight w holds w of them.
    let mut slots = Vec::new();
    for (k, (org, id, secret, workflow, weight)) in layout.sources.iter().enumerate() {
        let k = i32::try_from(k)?;
        db.execute(
            "INSERT INTO b_src VALUES ($1, $2, $3, $4, $5)",
            &[&k, org, id, secret, workflow],
        )
        .await?;
        slots.extend(std::iter::repeat_n(k, *weight as usize));
    }
    if slots.len() != 100 {
        bail!("source weights add up to {}, not 100", slots.len());
    }
    let mut per_org: BTreeMap<&str, i32> = BTreeMap::new();
    for (org, id, url) in &layout.endpoints {
        let n = per_org.entry(org.as_str()).or_insert(0);
        db.execute(
            "INSERT INTO b_ep VALUES ($1, $2, $3, $4)",
            &[org, &*n, id, url],
        )
        .await?;
        *n += 1;
    }
    for (variant, seq, kind, offset) in TEMPLATES {
        db.execute(
            "INSERT INTO b_tpl VALUES ($1, $2, $3, $4)",
            &[variant, seq, kind, offset],
        )
        .await?;
    }
    let slots = format!(
        "'{{{}}}'::int[]",
        slots
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );

    // Events: i = 1 … N in time order. 0.02 % handshakes (a few per source, as GitHub's
    // ping), 3.5 % ignored, the rest accepted; the newest accepted ones have runs
    // (rn = 1 is the newest).
    step(
        db,
        "staging",
        &format!(
            "CREATE TEMP TABLE b_ev AS
             SELECT i, ms, k, status,
                    CASE WHEN status = 'accepted'
                         THEN row_number() OVER (PARTITION BY status ORDER BY i DESC) END AS rn
             FROM (SELECT i, {t0} + i * {span} / {events} AS ms,
                          ({slots})[1 + pg_temp.u(i, 1) % 100] AS k,
                          CASE WHEN pg_temp.u(i, 2) < 2 THEN 'handshake'
                               WHEN pg_temp.u(i, 2) < 350 THEN 'ignored'
                               ELSE 'accepted' END AS status
                   FROM generate_series(1::int8, {events}) AS i) x;
             CREATE TEMP TABLE b_run AS
             SELECT b.rn, b.i, b.ms + 7 AS ms, s.org, s.id AS source_id, s.workflow_id,
                    CASE WHEN b.rn <= 20 THEN 'queued'
                         WHEN b.rn <= 300 THEN 'running'
                         WHEN pg_temp.u(b.rn, 3) < 600 THEN 'failed'
                         WHEN pg_temp.u(b.rn, 3) < 700 THEN 'cancelled'
                         WHEN pg_temp.u(b.rn, 3) < 750 THEN 'running'
                         ELSE 'completed' END AS status
             FROM b_ev b JOIN b_src s ON s.k = b.k WHERE b.rn <= {runs};
             ALTER TABLE b_run ADD COLUMN variant text;
             UPDATE b_run SET variant = CASE
                 WHEN status = 'completed' THEN 'completed' || (3 + rn % 2)
                 WHEN status = 'queued' THEN NULL ELSE status END;
             ANALYZE b_ev; ANALYZE b_run;"
        ),
    )
    .await?;

    step(
        db,
        "events",
        &format!(
            "INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id,
                                 disposition, traceparent, headers, body, received_at, run_id,
                                 body_bytes, body_expired, duplicates, last_duplicate_at)
             SELECT pg_temp.bid('evt', x.ms, x.i), x.org, x.source_id, x.key, x.name,
                    x.secret_id, x.status,
                    '00-' || md5('t' || x.i) || '-' || substr(md5('s' || x.i), 1, 16) || '-01',
                    jsonb_build_object(
                        'accept', '*/*', 'content-type', 'application/json',
                        'user-agent', 'GitHub-Hookshot/7e3a2b1', 'x-github-delivery', x.key,
                        'x-github-event', x.name, 'x-github-hook-id', '41850' || x.k,
                        'x-github-hook-installation-target-id', '90210' || x.k,
                        'x-github-hook-installation-target-type', 'repository',
                        'x-hub-signature', '[redacted]', 'x-hub-signature-256', '[redacted]'),
                    CASE WHEN x.ms < {expired_before} THEN ''::bytea
                         ELSE convert_to(x.body, 'UTF8') END,
                    to_timestamp(x.ms / 1000.0),
                    CASE WHEN x.rn <= {runs} THEN pg_temp.bid('run', x.ms + 7, x.rn) END,
                    octet_length(x.body), x.ms < {expired_before},
                    CASE WHEN x.dup THEN 1 + pg_temp.u(x.i, 5) % 3 ELSE 0 END,
                    CASE WHEN x.dup
                         THEN to_timestamp((x.ms + 1000 * (1 + pg_temp.u(x.i, 6) % 600)) / 1000.0)
                    END
             FROM (SELECT y.*,
                          format('{{\"ref\":\"refs/heads/main\",\"before\":\"%s\",\"after\":\"%s\",'
                                 '\"repository\":{{\"id\":%s,\"full_name\":\"acme/service-%s\",'
                                 '\"private\":true}},\"pusher\":{{\"name\":\"dev-%s\"}},'
                                 '\"delivery\":\"%s\",\"padding\":\"%s\"}}',
                                 md5('b' || y.i), md5('a' || y.i), 7000 + y.k, y.k, y.i % 50,
                                 y.key, repeat('x', 730)) AS body
                   FROM (SELECT b.i, b.ms, b.k, b.rn, b.status, s.org, s.id AS source_id,
                                s.secret_id, md5('d' || b.i)::uuid::text AS key,
                                CASE WHEN b.status = 'handshake' THEN 'ping'
                                     WHEN b.status = 'ignored'
                                          THEN (ARRAY['check_run', 'status', 'watch'])[1 + b.i % 3]
                                     WHEN pg_temp.u(b.i, 4) < 7000 THEN 'push'
                                     ELSE 'pull_request' END AS name,
                                b.status = 'accepted' AND pg_temp.u(b.i, 7) < 200 AS dup
                         FROM b_ev b JOIN b_src s ON s.k = b.k) y) x
             ORDER BY x.i"
        ),
    )
    .await?;

    step(
        db,
        "runs",
        "INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                           created_at, updated_at, published_at)
         SELECT pg_temp.bid('run', r.ms, r.rn), r.org, r.workflow_id, 'webhook', r.source_id,
                pg_temp.bid('evt', r.ms - 7, r.i), r.status, to_timestamp(r.ms / 1000.0),
                to_timestamp((r.ms + COALESCE(
                    (SELECT max(t.offset_ms) FROM b_tpl t WHERE t.variant = r.variant), 2))
                    / 1000.0),
                to_timestamp((r.ms + 2) / 1000.0)
         FROM b_run r ORDER BY r.rn DESC",
    )
    .await?;

    step(
        db,
        "run_events",
        "INSERT INTO run_events (org, id, type, run_id, workflow_id, occurred_at, data,
                                 received_at, traceparent, seq)
         SELECT r.org, pg_temp.bid('rev', r.ms + t.offset_ms, r.rn * 8 + t.seq), t.type,
                pg_temp.bid('run', r.ms, r.rn), r.workflow_id,
                to_timestamp((r.ms + t.offset_ms) / 1000.0),
                jsonb_build_object('step', CASE WHEN t.type LIKE 'step.%' THEN 'build-' || t.seq END,
                                   'attempt', 1, 'worker', 'worker-' || r.rn % 16),
                to_timestamp((r.ms + t.offset_ms + 15) / 1000.0),
                '00-' || md5('t' || r.i) || '-' || substr(md5('r' || (r.rn * 8 + t.seq)), 1, 16)
                    || '-01',
                t.seq
         FROM b_run r JOIN b_tpl t ON t.variant = r.variant
         ORDER BY r.ms + t.offset_ms",
    )
    .await?;

    // Deliveries: a hash-chosen share of (run event, endpoint of its org) pairs, sized
    // for the attempts wanted, then trimmed at random to that many attempts.
    let pairs: i64 = db
        .query_one(
            "SELECT count(*) FROM b_run r JOIN b_tpl t ON t.variant = r.variant
             JOIN b_ep e ON e.org = r.org",
            &[],
        )
        .await?
        .get(0);
    let wanted = attempts as f64 / MEAN_ATTEMPTS;
    let keep = ((wanted * 1.03 / pairs.max(1) as f64) * 10_000.0).ceil() as i64;
    if keep > 10_000 {
        line(
            "note",
            "fewer (run event, endpoint) pairs than deliveries wanted: every pair gets one",
        );
    }
    step(
        db,
        "delivery staging",
        &format!(
            "CREATE TEMP TABLE b_dlv AS
             SELECT n, org, endpoint_id, url, event_id, event_type, ms, attempts,
                    CASE WHEN attempts = 5 AND pg_temp.u(n, 9) < 5000 THEN 'failed'
                         WHEN attempts BETWEEN 2 AND 4 AND pg_temp.u(n, 9) >= 9800 THEN 'pending'
                         ELSE 'delivered' END AS status
             FROM (SELECT (r.rn * 8 + t.seq) * 8 + e.n AS n, r.org, e.id AS endpoint_id, e.url,
                          pg_temp.bid('rev', r.ms + t.offset_ms, r.rn * 8 + t.seq) AS event_id,
                          t.type AS event_type, r.ms + t.offset_ms + 40 AS ms,
                          CASE WHEN pg_temp.u((r.rn * 8 + t.seq) * 8 + e.n, 8) < 5500 THEN 1
                               WHEN pg_temp.u((r.rn * 8 + t.seq) * 8 + e.n, 8) < 7500 THEN 2
                               WHEN pg_temp.u((r.rn * 8 + t.seq) * 8 + e.n, 8) < 8700 THEN 3
                               WHEN pg_temp.u((r.rn * 8 + t.seq) * 8 + e.n, 8) < 9500 THEN 4
                               ELSE 5 END AS attempts
                   FROM b_run r JOIN b_tpl t ON t.variant = r.variant
                   JOIN b_ep e ON e.org = r.org
                   WHERE pg_temp.u((r.rn * 8 + t.seq) * 8 + e.n, 10) < {keep}) x;
             DELETE FROM b_dlv WHERE n IN (
                 SELECT n FROM (SELECT n, sum(attempts) OVER (ORDER BY hashint8extended(n, 11), n)
                                          AS running
                                FROM b_dlv) c
                 WHERE running > {attempts});
             ANALYZE b_dlv;"
        ),
    )
    .await?;

    // Attempt k starts after the backoff of the default schedule's shape.
    let offsets = "'{0,5000,300000,1800000,7200000}'::int8[]";
    step(
        db,
        "deliveries",
        &format!(
            "INSERT INTO deliveries (id, org, endpoint_id, event_id, event_type, status,
                                     attempts, next_attempt_at, last_status, last_error,
                                     created_at, updated_at, last_attempt_at)
             SELECT pg_temp.bid('dlv', d.ms, d.n), d.org, d.endpoint_id, d.event_id,
                    d.event_type, d.status, d.attempts,
                    CASE WHEN d.status = 'pending'
                         THEN to_timestamp(({now_ms} + 3600000 + d.n % 18000000) / 1000.0) END,
                    CASE d.status WHEN 'delivered' THEN 200 WHEN 'failed' THEN 503 ELSE 500 END,
                    CASE d.status WHEN 'failed' THEN 'HTTP 503' WHEN 'pending' THEN 'HTTP 500' END,
                    to_timestamp(d.ms / 1000.0),
                    to_timestamp((d.ms + ({offsets})[d.attempts]) / 1000.0),
                    to_timestamp((d.ms + ({offsets})[d.attempts]) / 1000.0)
             FROM b_dlv d ORDER BY d.ms, d.n"
        ),
    )
    .await?;

    step(
        db,
        "delivery_attempts",
        &format!(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms,
                                            request_url, request_headers, response_status,
                                            response_headers, response_body, error_class,
                                            next_attempt_at)
             SELECT pg_temp.bid('dlv', d.ms, d.n), g.a,
                    to_timestamp((d.ms + ({offsets})[g.a]) / 1000.0),
                    20 + pg_temp.u(d.n * 8 + g.a, 12) % 380, d.url,
                    jsonb_build_object(
                        'content-type', 'application/json', 'user-agent', 'hookgate/0.1',
                        'webhook-id', d.event_id,
                        'webhook-timestamp', ((d.ms + ({offsets})[g.a]) / 1000)::text,
                        'webhook-signature', 'v1,' || md5('sig' || d.n || g.a),
                        'traceparent', '00-' || md5('t' || d.n) || '-' || substr(md5('p' || d.n), 1, 16) || '-01'),
                    CASE WHEN ok THEN 200 WHEN timeout THEN NULL ELSE 503 END,
                    CASE WHEN NOT timeout
                         THEN '{{\"content-type\": \"text/plain\", \"content-length\": \"2\"}}'::jsonb END,
                    CASE WHEN ok THEN '\\x6f6b'::bytea
                         WHEN NOT timeout THEN convert_to('service unavailable', 'UTF8') END,
                    CASE WHEN timeout THEN 'timeout' END,
                    CASE WHEN g.a < d.attempts
                         THEN to_timestamp((d.ms + ({offsets})[g.a + 1]) / 1000.0)
                         WHEN d.status = 'pending'
                         THEN to_timestamp(({now_ms} + 3600000 + d.n % 18000000) / 1000.0) END
             FROM (SELECT * FROM b_dlv ORDER BY ms, n) d
             CROSS JOIN LATERAL generate_series(1, d.attempts) AS g(a)
             CROSS JOIN LATERAL (SELECT d.status = 'delivered' AND g.a = d.attempts AS ok,
                                        NOT (d.status = 'delivered' AND g.a = d.attempts)
                                        AND pg_temp.u(d.n * 8 + g.a, 13) < 3000 AS timeout) o"
        ),
    )
    .await?;

    step(
        db,
        "audit_log",
        &format!(
            "INSERT INTO audit_log (id, org, actor, action, target, details, at)
             SELECT pg_temp.bid('aud', ms, i), org, 'key_' || md5('k' || i % 40),
                    (ARRAY['source.updated', 'endpoint.updated', 'delivery.retried',
                           'run.cancelled', 'secret.rotated', 'api_key.created',
                           'ingress_event.replayed'])[1 + pg_temp.u(i, 15) % 7],
                    'obj_' || md5('o' || i), jsonb_build_object('via', 'api'),
                    to_timestamp(ms / 1000.0)
             FROM (SELECT i, {t0} + i * {span} / {audit} AS ms,
                          (ARRAY['{ORG}', '{ORG}', '{ORG}', 'bench-b', 'bench-c'])
                              [1 + pg_temp.u(i, 14) % 5] AS org
                   FROM generate_series(1::int8, {audit}) AS i) x
             ORDER BY i"
        ),
    )
    .await?;
    Ok(())
}

/// Ids and keys drawn at random from the filled tables, for the requests.
struct Samples {
    /// (id, dedup key, received_at, has a run) of events of `ORG`.
    events: Vec<(String, String, DateTime<Utc>, bool)>,
    sources: Vec<String>,
    runs: Vec<String>,
    deliveries: Vec<String>,
    endpoints: Vec<String>,
    audit: Vec<String>,
    workflows: Vec<String>,
    /// A run of `ORG` with events, and their ids (what lineage reads).
    lineage_run: Option<String>,
    lineage: Vec<String>,
}

impl Samples {
    async fn load(db: &Client, args: &Args) -> anyhow::Result<Self> {
        // About 2,000 rows of each table (BERNOULLI: uniform over the rows).
        let percent = |rows: u64| (200_000.0 / rows.max(1) as f64).min(100.0);
        let events = db
            .query(
                &format!(
                    "SELECT id, dedup_key, received_at, run_id IS NOT NULL FROM events
                     TABLESAMPLE BERNOULLI ({}) WHERE org = $1 AND dedup_key IS NOT NULL",
                    percent(args.events)
                ),
                &[&ORG],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let ids = |sql: String| async move {
            anyhow::Ok(
                db.query(&sql, &[&ORG])
                    .await?
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>(),
            )
        };
        let deliveries = (args.attempts as f64 / MEAN_ATTEMPTS) as u64;
        let lineage = db
            .query_opt(
                "SELECT run_id, array_agg(id) FROM run_events
                 WHERE org = $1 AND run_id = (SELECT run_id FROM events
                                              WHERE org = $1 AND run_id IS NOT NULL
                                              ORDER BY id DESC LIMIT 1 OFFSET 1000)
                 GROUP BY run_id",
                &[&ORG],
            )
            .await?;
        let (lineage_run, lineage) = match lineage {
            Some(row) => (Some(row.get(0)), row.get(1)),
            None => (None, Vec::new()),
        };
        Ok(Self {
            lineage_run,
            lineage,
            events,
            sources: ids("SELECT id FROM sources WHERE org = $1".to_owned()).await?,
            runs: ids(format!(
                "SELECT id FROM runs TABLESAMPLE BERNOULLI ({}) WHERE org = $1",
                percent(args.runs)
            ))
            .await?,
            deliveries: ids(format!(
                "SELECT id FROM deliveries TABLESAMPLE BERNOULLI ({}) WHERE org = $1",
                percent(deliveries)
            ))
            .await?,
            endpoints: ids("SELECT id FROM endpoints WHERE org = $1".to_owned()).await?,
            audit: ids(format!(
                "SELECT id FROM audit_log TABLESAMPLE BERNOULLI ({}) WHERE org = $1",
                percent(args.audit)
            ))
            .await?,
            workflows: ids("SELECT workflow_id FROM sources WHERE org = $1".to_owned()).await?,
        })
    }
}

fn pick(list: &[String]) -> anyhow::Result<&str> {
    list.choose(&mut rand::thread_rng())
        .map(String::as_str)
        .ok_or_else(|| anyhow!("no sample rows (is the fill too small?)"))
}

fn cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

struct Shape {
    name: &'static str,
    paths: Vec<String>,
}

/// Every read shape, each with `WARMUP + n` request paths on random samples.
fn shapes(s: &Samples, n: usize) -> anyhow::Result<Vec<Shape>> {
    let with_run: Vec<&(String, String, DateTime<Utc>, bool)> =
        s.events.iter().filter(|e| e.3).collect();
    let event = || {
        s.events
            .choose(&mut rand::thread_rng())
            .ok_or_else(|| anyhow!("no sample events"))
    };
    let org = format!("/v1/orgs/{ORG}");
    let mut shapes = Vec::new();
    let mut add = |name: &'static str,
                   make: &mut dyn FnMut() -> anyhow::Result<String>|
     -> anyhow::Result<()> {
        let paths = (0..WARMUP + n).map(|_| make()).collect::<Result<_, _>>()?;
        shapes.push(Shape { name, paths });
        Ok(())
    };
    add("org events, first page", &mut || {
        Ok(format!("{org}/ingress-events"))
    })?;
    add("org events, source_id=", &mut || {
        Ok(format!(
            "{org}/ingress-events?source_id={}",
            pick(&s.sources)?
        ))
    })?;
    add("org events, status=ignored", &mut || {
        Ok(format!("{org}/ingress-events?status=ignored"))
    })?;
    add("org events, status=handshake", &mut || {
        Ok(format!("{org}/ingress-events?status=handshake"))
    })?;
    add("org events, dedup_key=", &mut || {
        Ok(format!("{org}/ingress-events?dedup_key={}", event()?.1))
    })?;
    add("org events, since=", &mut || {
        let since = event()?.2.to_rfc3339_opts(SecondsFormat::Millis, true);
        Ok(format!("{org}/ingress-events?since={since}"))
    })?;
    add("org events, since= & status=handshake", &mut || {
        let since = event()?.2.to_rfc3339_opts(SecondsFormat::Millis, true);
        Ok(format!(
            "{org}/ingress-events?since={since}&status=handshake"
        ))
    })?;
    add("org events, deep page (cursor)", &mut || {
        Ok(format!(
            "{org}/ingress-events?cursor={}",
            cursor(&event()?.0)
        ))
    })?;
    add("source events, first page", &mut || {
        Ok(format!("/v1/sources/{}/events", pick(&s.sources)?))
    })?;
    add("source events, status=handshake", &mut || {
        Ok(format!(
            "/v1/sources/{}/events?status=handshake",
            pick(&s.sources)?
        ))
    })?;
    add("source events, deep page (cursor)", &mut || {
        Ok(format!(
            "/v1/sources/{}/events?cursor={}",
            pick(&s.sources)?,
            cursor(&event()?.0)
        ))
    })?;
    add("event detail with lineage", &mut || {
        let e = with_run
            .choose(&mut rand::thread_rng())
            .ok_or_else(|| anyhow!("no sample events with a run"))?;
        Ok(format!("/v1/ingress-events/{}", e.0))
    })?;
    add("runs, first page", &mut || Ok(format!("{org}/runs")))?;
    add("runs, status=failed", &mut || {
        Ok(format!("{org}/runs?status=failed"))
    })?;
    add("runs, status=cancelled", &mut || {
        Ok(format!("{org}/runs?status=cancelled"))
    })?;
    add("runs, status=running", &mut || {
        Ok(format!("{org}/runs?status=running"))
    })?;
    add("runs, status=queued (none)", &mut || {
        Ok(format!("{org}/runs?status=queued"))
    })?;
    add("runs, workflow_id=", &mut || {
        Ok(format!("{org}/runs?workflow_id={}", pick(&s.workflows)?))
    })?;
    add("runs, deep page (cursor)", &mut || {
        Ok(format!("{org}/runs?cursor={}", cursor(pick(&s.runs)?)))
    })?;
    add("run detail", &mut || {
        Ok(format!("/v1/runs/{}", pick(&s.runs)?))
    })?;
    add("run events (timeline)", &mut || {
        Ok(format!("/v1/runs/{}/events", pick(&s.runs)?))
    })?;
    add("deliveries, first page", &mut || {
        Ok(format!("{org}/deliveries"))
    })?;
    add("deliveries, endpoint_id=", &mut || {
        Ok(format!(
            "{org}/deliveries?endpoint_id={}",
            pick(&s.endpoints)?
        ))
    })?;
    add("deliveries, endpoint_id= & status=failed", &mut || {
        Ok(format!(
            "{org}/deliveries?endpoint_id={}&status=failed",
            pick(&s.endpoints)?
        ))
    })?;
    add("deliveries, endpoint_id= & status=retrying", &mut || {
        Ok(format!(
            "{org}/deliveries?endpoint_id={}&status=retrying",
            pick(&s.endpoints)?
        ))
    })?;
    add("deliveries, status=failed", &mut || {
        Ok(format!("{org}/deliveries?status=failed"))
    })?;
    add("deliveries, deep page (cursor)", &mut || {
        Ok(format!(
            "{org}/deliveries?endpoint_id={}&cursor={}",
            pick(&s.endpoints)?,
            cursor(pick(&s.deliveries)?)
        ))
    })?;
    add("delivery with attempts", &mut || {
        Ok(format!("/v1/deliveries/{}", pick(&s.deliveries)?))
    })?;
    add("audit, first page", &mut || Ok(format!("{org}/audit")))?;
    add("audit, deep page (cursor)", &mut || {
        Ok(format!("{org}/audit?cursor={}", cursor(pick(&s.audit)?)))
    })?;
    Ok(shapes)
}

struct Timing {
    p50: f64,
    p99: f64,
    max: f64,
    /// Mean `data` rows per answer (lists) or 1.
    rows: f64,
}

async fn time_shape(
    stack: &Stack,
    http: &reqwest::Client,
    shape: &Shape,
) -> anyhow::Result<Timing> {
    let mut times = Vec::with_capacity(shape.paths.len());
    let mut rows = 0usize;
    for (i, path) in shape.paths.iter().enumerate() {
        let started = Instant::now();
        let response = http
            .get(format!("{}{path}", stack.url))
            .bearer_auth(&stack.operator_token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        if !status.is_success() {
            bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        if i >= WARMUP {
            times.push(elapsed);
            let value: Value = serde_json::from_slice(&body)?;
            rows += value["data"].as_array().map_or(1, Vec::len);
        }
    }
    times.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        ms(times[rank - 1])
    };
    Ok(Timing {
        p50: at(0.50),
        p99: at(0.99),
        max: times.last().copied().map_or(0.0, ms),
        rows: rows as f64 / times.len().max(1) as f64,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The SQL of one store call, as `src/store/postgres` sends it, with parameters as
/// SQL literals. `cached`: the store prepares it once per pooled connection
/// (`prepare_cached`), so after five executions PostgreSQL may switch to a generic
/// plan; it is explained as the sixth execution of a prepared statement. The others
/// go out as unnamed statements, planned with their parameters every time.
struct Query {
    name: &'static str,
    sql: String,
    params: Vec<String>,
    cached: bool,
}

const EVENT_COLUMNS: &str = "e.id, e.org, e.source_id, e.received_at, e.disposition, \
     e.event_name, e.dedup_key, e.secret_id, e.run_id, e.duplicates, e.last_duplicate_at, \
     e.body_bytes, e.body_expired";
const DELIVERY_COLUMNS: &str = "d.id, d.org, d.endpoint_id, d.event_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.last_attempt_at, d.created_at, d.updated_at";
const RUN_COLUMNS: &str = "id, org, workflow_id, trigger_type, source_id, event_id, \
     CASE WHEN status = 'queued' AND published_at IS NOT NULL THEN 'published' ELSE status END \
     AS status, created_at, updated_at, published_at, cancel_requested_at, retry_of";

/// `EventLogStore::list_ingress_events` (`store/postgres/event_log.rs`): only the
/// filters given (here: not `NULL`) appear in the statement, numbered as the store
/// numbers them.
fn ingress_events(
    org: &str,
    source: &str,
    status: &str,
    dedup: &str,
    floor_and_since: Option<(&str, &str)>,
    before: &str,
) -> (String, Vec<String>) {
    let mut params = vec![org.to_owned(), "51".to_owned()];
    let mut sources = String::from("s.org = $1");
    let mut events = String::from("e.source_id = s.id");
    if source != NULL {
        params.push(source.to_owned());
        let _ = write!(sources, " AND s.id = ${}", params.len());
    }
    if status != NULL {
        params.push(status.to_owned());
        let _ = write!(events, " AND e.disposition = ${}", params.len());
        if status != "'accepted'" {
            events.push_str(" AND e.disposition <> 'accepted'");
        }
    }
    if dedup != NULL {
        params.push(dedup.to_owned());
        let _ = write!(events, " AND e.dedup_key = ${}", params.len());
    }
    if let Some((floor, since)) = floor_and_since {
        params.push(floor.to_owned());
        let _ = write!(events, " AND e.id >= ${}", params.len());
        params.push(format!("{since}::timestamptz"));
        let _ = write!(events, " AND e.received_at >= ${}", params.len());
    }
    if before != NULL {
        params.push(before.to_owned());
        let _ = write!(events, " AND e.id < ${}", params.len());
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM sources s CROSS JOIN LATERAL (
             SELECT * FROM events e WHERE {events}
             ORDER BY e.id DESC LIMIT $2) e
         WHERE {sources}
         ORDER BY e.id DESC LIMIT $2"
    );
    (sql, params)
}

/// `PostgresStore::keyset_page` around `select` with `n` parameters.
fn keyset(select: &str, id: &str, n: usize) -> String {
    format!(
        "{select} AND (${}::text IS NULL OR {id} < ${}) ORDER BY {id} DESC LIMIT ${}",
        n + 1,
        n + 1,
        n + 2
    )
}

fn lit(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

const NULL: &str = "NULL";

fn queries(s: &Samples) -> Vec<Query> {
    let mut rng = rand::thread_rng();
    let one = |list: &[String]| {
        list.choose(&mut rand::thread_rng())
            .map_or_else(|| NULL.to_owned(), |v| lit(v))
    };
    let event = s.events.iter().find(|e| e.3).cloned();
    let (event_id, dedup, since) = event.map_or_else(
        || (NULL.to_owned(), NULL.to_owned(), NULL.to_owned()),
        |e| {
            let since = e.2.to_rfc3339_opts(SecondsFormat::Millis, true);
            (lit(&e.0), lit(&e.1), lit(&since))
        },
    );
    let floor = s
        .events
        .iter()
        .find(|e| e.3)
        .and_then(|e| e.0.get(..14))
        .map_or_else(
            || NULL.to_owned(),
            |time| lit(&format!("{time}0000000000000000")),
        );
    let deep = s
        .events
        .choose(&mut rng)
        .map_or_else(|| NULL.to_owned(), |e| lit(&e.0));
    let org = lit(ORG);
    let events = |source: String,
                  status: &str,
                  dedup: String,
                  floor: String,
                  since: String,
                  before: String| {
        let floor_and_since = (floor != NULL).then_some((floor.as_str(), since.as_str()));
        ingress_events(&org, &source, status, &dedup, floor_and_since, &before)
    };
    let qe = |name: &'static str, (sql, params): (String, Vec<String>)| Query {
        name,
        sql,
        params,
        cached: true,
    };
    let q = |name: &'static str, sql: String, params: Vec<String>, cached: bool| Query {
        name,
        sql,
        params,
        cached,
    };
    let run = s
        .lineage_run
        .as_deref()
        .map_or_else(|| NULL.to_owned(), lit);
    let runs_select = format!(
        "SELECT {RUN_COLUMNS} FROM runs
         WHERE org = $1 AND ($2::text IS NULL OR status = $2)
           AND ($4::boolean IS NULL OR (published_at IS NOT NULL) = $4)
           AND ($3::text IS NULL OR workflow_id = $3)"
    );
    // As the store adds it for `status=queued` (`list_runs`).
    let queued_select = format!("{runs_select} AND id IN (SELECT run_id FROM outbox)");
    let runs = |status: &str, published: &str, workflow: String, before: String| {
        vec![
            org.clone(),
            status.to_owned(),
            workflow,
            published.to_owned(),
            before,
            "51".to_owned(),
        ]
    };
    let deliveries_select = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d
         WHERE d.org = $1 AND ($2::text IS NULL OR d.endpoint_id = $2)
           AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR d.event_type = $4)
           AND ($5::timestamptz IS NULL OR d.created_at >= $5)
           AND ($6::bool IS NULL OR (d.attempts > 0) = $6)
           AND ($7::bool IS NULL OR EXISTS (SELECT 1 FROM endpoints e
                                             WHERE e.id = d.endpoint_id AND e.enabled = $7))"
    );
    let deliveries =
        |endpoint: String, status: &str, tried: &str, enabled: &str, before: String| {
            vec![
                org.clone(),
                endpoint,
                status.to_owned(),
                NULL.to_owned(),
                NULL.to_owned(),
                tried.to_owned(),
                enabled.to_owned(),
                before,
                "51".to_owned(),
            ]
        };
    let endpoint = one(&s.endpoints);
    vec![
        qe(
            "org events, first page",
            events(
                NULL.into(),
                NULL,
                NULL.into(),
                NULL.into(),
                NULL.into(),
                NULL.into(),
            ),
        ),
        qe(
            "org events, source_id=",
            events(
                one(&s.sources),
                NULL,
                NULL.into(),
                NULL.into(),
                NULL.into(),
                NULL.into(),
            ),
        ),
        qe(
            "org events, status=ignored",
            events(
                NULL.into(),
                "'ignored'",
                NULL.into(),
                NULL.into(),
                NULL.into(),
                NULL.into(),
            ),
        ),
        qe(
            "org events, status=handshake",
            events(
                NULL.into(),
                "'handshake'",
                NULL.into(),
                NULL.into(),
                NULL.into(),
                NULL.into(),
            ),
        ),
        qe(
            "org events, dedup_key=",
            events(
                NULL.into(),
                NULL,
                dedup,
                NULL.into(),
                NULL.into(),
                NULL.into(),
            ),
        ),
        qe(
            "org events, since= & status=handshake",
            events(
                NULL.into(),
                "'handshake'",
                NULL.into(),
                floor,
                since,
                NULL.into(),
            ),
        ),
        qe(
            "org events, deep page (cursor)",
            events(
                NULL.into(),
                NULL,
                NULL.into(),
                NULL.into(),
                NULL.into(),
                deep,
            ),
        ),
        q(
            "event detail",
            format!("SELECT {EVENT_COLUMNS}, e.headers, e.body FROM events e WHERE e.id = $1"),
            vec![event_id],
            false,
        ),
        q(
            "lineage: run events",
            "SELECT id, type, occurred_at FROM run_events
           WHERE org = $1 AND run_id = $2 ORDER BY seq NULLS LAST, occurred_at, id"
                .to_owned(),
            vec![org.clone(), run.clone()],
            false,
        ),
        q(
            "lineage: deliveries",
            format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.endpoint_id = ANY(ARRAY(SELECT id FROM endpoints WHERE org = $1))
               AND d.event_id = ANY($2) ORDER BY d.id"
            ),
            vec![
                org.clone(),
                format!(
                    "ARRAY[{}]::text[]",
                    s.lineage
                        .iter()
                        .map(|id| lit(id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
            false,
        ),
        q(
            "run detail",
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"),
            vec![run.clone()],
            false,
        ),
        q(
            "run timeline",
            "SELECT seq, id, type, occurred_at, data FROM run_events
           WHERE org = $1 AND run_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                .to_owned(),
            vec![org.clone(), run.clone(), "0".into(), "51".into()],
            true,
        ),
        q(
            "runs, first page",
            keyset(&runs_select, "id", 4),
            runs(NULL, NULL, NULL.into(), NULL.into()),
            false,
        ),
        q(
            "runs, status=failed",
            keyset(&runs_select, "id", 4),
            runs("'failed'", NULL, NULL.into(), NULL.into()),
            false,
        ),
        q(
            "runs, status=running",
            keyset(&runs_select, "id", 4),
            runs("'running'", NULL, NULL.into(), NULL.into()),
            false,
        ),
        q(
            "runs, status=queued (none)",
            keyset(&queued_select, "id", 4),
            runs("'queued'", "false", NULL.into(), NULL.into()),
            false,
        ),
        q(
            "runs, workflow_id=",
            keyset(&runs_select, "id", 4),
            runs(NULL, NULL, one(&s.workflows), NULL.into()),
            false,
        ),
        q(
            "runs, deep page",
            keyset(&runs_select, "id", 4),
            runs(NULL, NULL, NULL.into(), run.clone()),
            false,
        ),
        q(
            "deliveries, first page",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(NULL.into(), NULL, NULL, NULL, NULL.into()),
            false,
        ),
        q(
            "deliveries, endpoint_id=",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(endpoint.clone(), NULL, NULL, NULL, NULL.into()),
            false,
        ),
        q(
            "deliveries, endpoint_id= & status=failed",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(endpoint.clone(), "'failed'", NULL, NULL, NULL.into()),
            false,
        ),
        q(
            "deliveries, endpoint_id= & status=retrying",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(endpoint.clone(), "'pending'", "true", "true", NULL.into()),
            false,
        ),
        q(
            "deliveries, status=failed",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(NULL.into(), "'failed'", NULL, NULL, NULL.into()),
            false,
        ),
        q(
            "deliveries, deep page",
            keyset(&deliveries_select, "d.id", 7),
            deliveries(endpoint, NULL, NULL, NULL, one(&s.deliveries)),
            false,
        ),
        q(
            "delivery",
            format!("SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1"),
            vec![one(&s.deliveries)],
            false,
        ),
        q(
            "delivery attempts",
            "SELECT delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                  response_status, response_headers, response_body, error_class, next_attempt_at
           FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt"
                .to_owned(),
            vec![one(&s.deliveries)],
            false,
        ),
        q(
            "audit, first page",
            keyset(
                "SELECT id, org, actor, action, target, details, at FROM audit_log WHERE org = $1",
                "id",
                1,
            ),
            vec![org.clone(), NULL.into(), "51".into()],
            false,
        ),
        q(
            "audit, deep page",
            keyset(
                "SELECT id, org, actor, action, target, details, at FROM audit_log WHERE org = $1",
                "id",
                1,
            ),
            vec![org.clone(), one(&s.audit), "51".into()],
            false,
        ),
    ]
}

/// The plan's lines. A prepared statement, so the parameters keep the types the
/// store's statement infers; a cached one runs five times first (see [`Query`]).
async fn explain(db: &Client, query: &Query) -> anyhow::Result<Vec<String>> {
    db.batch_execute("DEALLOCATE ALL").await?;
    db.batch_execute(&format!("PREPARE q AS {}", query.sql))
        .await
        .with_context(|| format!("PREPARE {}", query.name))?;
    let mut execute = String::from("EXECUTE q(");
    for (i, p) in query.params.iter().enumerate() {
        if i > 0 {
            execute.push_str(", ");
        }
        let _ = write!(execute, "{p}");
    }
    execute.push(')');
    if query.cached {
        for _ in 0..5 {
            db.batch_execute(&execute).await?;
        }
    }
    let rows = db
        .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {execute}"), &[])
        .await
        .with_context(|| format!("EXPLAIN {}", query.name))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// "Index Scan Backward using events_by_source on events", … in plan order, deduplicated.
fn plan_scans(plan: &[String]) -> Vec<String> {
    let mut scans: Vec<String> = Vec::new();
    for node in plan {
        let node = node.trim().trim_start_matches("->").trim();
        let node = node.trim_start_matches("Parallel ");
        let is_scan = node.starts_with("Seq Scan")
            || node.starts_with("Index Scan")
            || node.starts_with("Index Only Scan")
            || node.starts_with("Bitmap Index Scan");
        if !is_scan {
            continue;
        }
        let scan = node.split("  (").next().unwrap_or(node).to_owned();
        if !scans.contains(&scan) {
            scans.push(scan);
        }
    }
    scans
}
