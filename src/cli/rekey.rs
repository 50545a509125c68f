//! `hookgate rekey`: re-seals every secret under the current master key, against the
//! store directly (like `migrate`) with the settings `serve` reads. Instances may keep
//! serving PostgreSQL meanwhile; an embedded data dir is one process's, so a serving
//! embedded hookgate is re-keyed with `POST /v1/admin/rekey` instead.

use super::table::Table;
use crate::bootstrap::{self, DataDirLock};
use crate::config::{RekeyArgs, RekeyConfig};
use crate::crypto::Keyring;
use crate::rekey::{self, Progress, RekeyOptions, RekeyReport};
use crate::store::{EmbeddedStore, PostgresStore, Store, StoreError};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// Who re-keyed, in the audit log: whoever holds the store's credentials and the master
/// key is the operator, as the operator token's holder is over the API.
const ACTOR: &str = "operator";

pub async fn run(args: RekeyArgs) -> anyhow::Result<()> {
    let config = RekeyConfig::from_args(&args)?;
    let (store, keyring) = open(&config).await?;
    let options = RekeyOptions {
        batch_size: config.batch_size,
        max_batches: config.max_batches,
        actor: ACTOR.to_owned(),
    };
    let mut progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bar(None))
    } else {
        Box::new(Counts::default())
    };
    let report = rekey::run(store.as_ref(), &keyring, &options, progress.as_mut()).await?;
    print!("{}", summary(&report));
    if report.unopenable > 0 {
        anyhow::bail!(
            "{} secrets could not be opened (their ids are in the log above)",
            report.unopenable
        );
    }
    Ok(())
}

/// The store and keyring of the configured mode.
async fn open(config: &RekeyConfig) -> anyhow::Result<(Arc<dyn Store>, Keyring)> {
    match (&config.database_url, &config.master_key) {
        (Some(url), Some(master_key)) => {
            let url = url.expose_str().unwrap_or_default();
            let store = PostgresStore::connect(url, 2)
                .await
                .context("cannot open the store")?;
            let keyring = crate::server::keyring(master_key, &config.master_keys_retired)?;
            Ok((Arc::new(store), keyring))
        }
        _ => {
            let lock = DataDirLock::acquire(&config.data_dir).map_err(|e| match e {
                // The data dir is one process's: the serving one re-keys itself.
                bootstrap::BootstrapError::InUse { .. } => anyhow::Error::new(e).context(
                    "cannot re-key while hookgate serves this data dir: \
                     use POST /v1/admin/rekey with the operator token, or stop it first",
                ),
                e => e.into(),
            })?;
            let (master_key, retired) = bootstrap::embedded_keys(
                &lock,
                config.master_key.as_ref(),
                &config.master_keys_retired,
            )?;
            let keyring = crate::server::keyring(&master_key, &retired)?;
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open_locked(lock))
                .await
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?
                .context("cannot open the store")?;
            Ok((Arc::new(store), keyring))
        }
    }
}

/// What the run did, for a person: counts per old key id, and what is left.
fn summary(report: &RekeyReport) -> String {
    let mut out = format!(
        "re-sealed {} under master key {}\n",
        secrets(report.total()),
        report.key_id
    );
    if !report.resealed.is_empty() {
        let mut table = Table::new(["FROM KEY", "SECRETS"]);
        for (key_id, count) in &report.resealed {
            table.row([key_id.clone(), count.to_string()]);
        }
        out.push_str(&table.to_string());
    }
    if report.unopenable > 0 {
        out.push_str(&format!(
            "{} could not be opened (tampered?)\n",
            secrets(report.unopenable)
        ));
    }
    if report.remaining == 0 {
        out.push_str("every secret is sealed under the current master key\n");
    } else {
        out.push_str(&format!(
            "{} still sealed under other keys: run hookgate rekey again to go on\n",
            secrets(report.remaining)
        ));
    }
    out
}

fn secrets(n: u64) -> String {
    if n == 1 {
        "1 secret".to_owned()
    } else {
        format!("{n} secrets")
    }
}

/// A progress bar on stderr, for a terminal.
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn start(&mut self, total: u64) {
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("re-sealing {bar:40} {pos}/{len} secrets, {eta} left")
        {
            bar.set_style(style);
        }
        self.0 = Some(bar);
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// One line of counts per batch on stderr, for logs and pipes.
#[derive(Default)]
struct Counts {
    total: u64,
    done: u64,
}

impl Progress for Counts {
    fn start(&mut self, total: u64) {
        self.total = total;
        eprintln!("re-sealing {} under other keys", secrets(total));
    }

    fn advance(&mut self, done: u64) {
        self.done += done;
        eprintln!("re-sealed {}/{}", self.done, self.total);
    }

    fn finish(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn summary_names_each_old_key_and_what_is_left() {
        let done = RekeyReport {
            key_id: "cccccccc".into(),
            resealed: BTreeMap::from([("aaaaaaaa".into(), 3), ("bbbbbbbb".into(), 1)]),
            ..RekeyReport::default()
        };
        assert_eq!(
            summary(&done),
            "re-sealed 4 secrets under master key cccccccc\n\
             FROM KEY  SECRETS\n\
             aaaaaaaa  3\n\
             bbbbbbbb  1\n\
             every secret is sealed under the current master key\n"
        );
        let nothing = RekeyReport {
            key_id: "cccccccc".into(),
            ..RekeyReport::default()
        };
        assert_eq!(
            summary(&nothing),
            "re-sealed 0 secrets under master key cccccccc\n\
             every secret is sealed under the current master key\n"
        );
        let partial = RekeyReport {
            key_id: "cccccccc".into(),
            resealed: BTreeMap::from([("aaaaaaaa".into(), 1)]),
            unopenable: 1,
            remaining: 5,
            batches: 1,
        };
        assert_eq!(
            summary(&partial),
            "re-sealed 1 secret under master key cccccccc\n\
             FROM KEY  SECRETS\n\
             aaaaaaaa  1\n\
             1 secret could not be opened (tampered?)\n\
             5 secrets still sealed under other keys: run hookgate rekey again to go on\n"
        );
    }
}
