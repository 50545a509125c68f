//! Master-key rotation (SPEC §15): re-seal every secret sealed under a retired master
//! key with the current one, check at start that every sealed secret can be opened,
//! and count sealed secrets per key id for `hookgate_secrets_sealed`.
//!
//! The re-keying walks the secrets by id, `batch_size` at a time, reading only those
//! not yet under the current key; each batch is its own transaction, and each secret
//! is written only while its stored value is still the one that was opened
//! (compare-and-set), so it runs while instances serve, a crash loses at most the
//! batch in flight, and a concurrent run (or a later rotation) is never overwritten.
//! Running it again goes on where it stopped, because what is done is not read again;
//! once everything is under the current key a run re-seals nothing.

use crate::crypto::Keyring;
use crate::metrics::Metrics;
use crate::store::{Reseal, ResealBatch, SealedCount, Store, StoreError};
use std::collections::BTreeMap;
use std::fmt;

/// Secrets re-sealed per transaction unless told otherwise: a batch holds its row
/// locks for milliseconds.
pub const DEFAULT_BATCH: usize = 500;

/// The label of `hookgate_secrets_sealed` for secrets under a key this instance lacks.
pub const UNKNOWN_KEY_LABEL: &str = "unknown";

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error("cannot read or write the secrets")]
    Store(#[from] StoreError),
    #[error(transparent)]
    UnknownKeys(#[from] UnknownKeys),
}

/// Secrets sealed under master keys the keyring does not hold (or not sealed at all):
/// they could not be opened, so hookgate refuses to start (or to re-key) instead of
/// failing the first request that needs one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownKeys(pub Vec<SealedCount>);

impl fmt::Display for UnknownKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|count| {
                let secrets = plural(count.secrets, "secret");
                match &count.key_id {
                    Some(id) => format!("{secrets} sealed under master key {id}"),
                    None => format!("{secrets} whose sealed value is malformed"),
                }
            })
            .collect();
        write!(
            f,
            "{}, which is neither HOOKGATE_MASTER_KEY nor in HOOKGATE_MASTER_KEYS_RETIRED: \
             add that key to HOOKGATE_MASTER_KEYS_RETIRED (embedded mode: to the data \
             dir's master-keys-retired file)",
            parts.join(", ")
        )
    }
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The counts whose key the keyring does not hold; `Ok` when every one can be opened.
pub fn unknown_keys(keyring: &Keyring, counts: &[SealedCount]) -> Result<(), UnknownKeys> {
    let unknown: Vec<SealedCount> = counts
        .iter()
        .filter(|c| c.secrets > 0 && !c.key_id.as_deref().is_some_and(|id| keyring.knows(id)))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(UnknownKeys(unknown))
    }
}

/// Reads how many secrets each key id seals and fails if any key is missing.
pub async fn check_keys(
    store: &dyn Store,
    keyring: &Keyring,
) -> Result<Vec<SealedCount>, RekeyError> {
    let counts = store.count_sealed_by_key().await?;
    unknown_keys(keyring, &counts)?;
    Ok(counts)
}

/// The values of `hookgate_secrets_sealed`: every configured key id (0 when it seals
/// nothing) and `unknown` for the rest, so the label values are a closed set.
pub fn gauge_values(keyring: &Keyring, counts: &[SealedCount]) -> Vec<(String, u64)> {
    let mut values: Vec<(String, u64)> = keyring.key_ids().map(|id| (id.to_owned(), 0)).collect();
    let mut unknown = 0;
    for count in counts {
        match values
            .iter_mut()
            .find(|(id, _)| Some(id.as_str()) == count.key_id.as_deref())
        {
            Some((_, n)) => *n += count.secrets,
            None => unknown += count.secrets,
        }
    }
    values.push((UNKNOWN_KEY_LABEL.to_owned(), unknown));
    values
}

/// Refreshes `hookgate_secrets_sealed` from the store; a failure is logged and the
/// gauge keeps its last values.
pub async fn refresh_gauge(store: &dyn Store, keyring: &Keyring, metrics: &Metrics) {
    match store.count_sealed_by_key().await {
        Ok(counts) => metrics.secrets_sealed(&gauge_values(keyring, &counts)),
        Err(error) => tracing::warn!(%error, "cannot count sealed secrets"),
    }
}

/// How a run reports its progress (a terminal's progress bar, plain lines, nothing).
pub trait Progress: Send {
    /// `total`: the secrets under other keys when the run starts.
    fn start(&mut self, total: u64);
    /// `done` more secrets were handled (re-sealed, or skipped as unopenable).
    fn advance(&mut self, done: u64);
    fn finish(&mut self);
}

/// No progress shown (the REST API answers with the report).
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _total: u64) {}
    fn advance(&mut self, _done: u64) {}
    fn finish(&mut self) {}
}

#[derive(Debug, Clone)]
pub struct RekeyOptions {
    pub batch_size: usize,
    /// Stop after this many batches (the rest is done by running again).
    pub max_batches: Option<usize>,
    /// Who asked, for the audit log.
    pub actor: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// The key every re-sealed secret is now sealed under.
    pub key_id: String,
    /// Secrets re-sealed, by the id of the key they were sealed under.
    pub resealed: BTreeMap<String, u64>,
    /// Secrets under a configured key that failed to open (tampered); logged by id.
    pub unopenable: u64,
    /// Secrets still under another key after the run: 0 once it is complete.
    pub remaining: u64,
    /// Transactions committed.
    pub batches: u64,
}

impl RekeyReport {
    pub fn total(&self) -> u64 {
        self.resealed.values().sum()
    }
}

fn not_current(keyring: &Keyring, counts: &[SealedCount]) -> u64 {
    counts
        .iter()
        .filter(|c| c.key_id.as_deref() != Some(keyring.current_id()))
        .map(|c| c.secrets)
        .sum()
}

/// Re-seals every secret not under the current key (see the module doc).
pub async fn run(
    store: &dyn Store,
    keyring: &Keyring,
    options: &RekeyOptions,
    progress: &mut dyn Progress,
) -> Result<RekeyReport, RekeyError> {
    let counts = check_keys(store, keyring).await?;
    let mut report = RekeyReport {
        key_id: keyring.current_id().to_owned(),
        ..RekeyReport::default()
    };
    progress.start(not_current(keyring, &counts));
    let mut after: Option<String> = None;
    while options
        .max_batches
        .is_none_or(|max| report.batches < max as u64)
    {
        let rows = store
            .sealed_elsewhere(keyring.current_id(), after.as_deref(), options.batch_size)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id.clone());
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            match keyring.reseal(&row.sealed, row.id.as_bytes()) {
                Ok(Some(new)) => items.push(Reseal {
                    id: row.id.clone(),
                    org: row.org.clone(),
                    old: row.sealed.clone(),
                    new,
                }),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(secret.id = %row.id, %error, "cannot re-seal secret");
                    report.unopenable += 1;
                }
            }
        }
        let batch = ResealBatch {
            items,
            actor: options.actor.clone(),
            to_key_id: report.key_id.clone(),
        };
        let written = store.reseal_secrets(&batch).await?;
        for item in batch.items.iter().filter(|i| written.contains(&i.id)) {
            let from = crate::crypto::sealed_key_id(&item.old).unwrap_or_default();
            *report.resealed.entry(from.to_owned()).or_default() += 1;
        }
        report.batches += 1;
        progress.advance(rows.len() as u64);
    }
    progress.finish();
    report.remaining = not_current(keyring, &store.count_sealed_by_key().await?);
    tracing::info!(
        key.id = %report.key_id,
        resealed = report.total(),
        unopenable = report.unopenable,
        remaining = report.remaining,
        "re-keyed secrets"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn count(key_id: Option<&str>, secrets: u64) -> SealedCount {
        SealedCount {
            key_id: key_id.map(str::to_owned),
            secrets,
        }
    }

    #[test]
    fn keys_the_keyring_lacks_are_named_with_their_counts() {
        let ring = Keyring::new(key(2), vec![key(1)]);
        let (k1, k2, k9) = (key(1), key(2), key(9));
        assert_eq!(
            unknown_keys(&ring, &[count(Some(k1.id()), 4), count(Some(k2.id()), 1)]),
            Ok(())
        );
        assert_eq!(unknown_keys(&ring, &[]), Ok(()));
        let error = unknown_keys(
            &ring,
            &[
                count(Some(k2.id()), 3),
                count(Some(k9.id()), 7),
                count(None, 1),
            ],
        )
        .unwrap_err();
        assert_eq!(error.0, [count(Some(k9.id()), 7), count(None, 1)]);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "7 secrets sealed under master key {}, 1 secret whose sealed value is malformed, \
                 which is neither HOOKGATE_MASTER_KEY nor in HOOKGATE_MASTER_KEYS_RETIRED",
                k9.id()
            )),
            "{message}"
        );
    }

    #[test]
    fn gauge_has_every_configured_key_and_unknown_for_the_rest() {
        let ring = Keyring::new(key(2), vec![key(1)]);
        let (k1, k2, k9) = (key(1), key(2), key(9));
        type Expected<'a> = Vec<(&'a str, u64)>;
        let cases: Vec<(Vec<SealedCount>, Expected)> = vec![
            (vec![], vec![(k2.id(), 0), (k1.id(), 0), ("unknown", 0)]),
            (
                vec![count(Some(k1.id()), 5), count(Some(k2.id()), 2)],
                vec![(k2.id(), 2), (k1.id(), 5), ("unknown", 0)],
            ),
            (
                vec![count(Some(k9.id()), 3), count(None, 1)],
                vec![(k2.id(), 0), (k1.id(), 0), ("unknown", 4)],
            ),
        ];
        for (counts, expected) in cases {
            let got = gauge_values(&ring, &counts);
            let expected: Vec<(String, u64)> = expected
                .into_iter()
                .map(|(id, n)| (id.to_owned(), n))
                .collect();
            assert_eq!(got, expected, "{counts:?}");
        }
    }
}
