//! Sources with their opened secrets, cached briefly so ingress does not read them
//! (two queries and a decryption) on every request.
//!
//! An entry serves for at most `ttl` (1 s) after its load *started*: a rotation, an
//! expiry, a disable or a delete made on ANY instance takes effect everywhere within
//! that time, with no cross-instance signalling to fail. Changes made through this
//! instance also invalidate at once. Unknown sources are cached too, so a flood of
//! requests to a bad URL costs no queries.
//!
//! A busy source never waits for its reload: past half its life an entry is reloaded in
//! the background by the one request that noticed, while every request keeps using it.
//! A missing or expired entry is loaded once however many requests want it (the others
//! wait for that load). Without that, every request in flight when an entry expires
//! loads it again, and the 64 loads queue for the connections the ingress writers
//! commit on: under load every connection stalled ~70 ms once a second.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ActiveSource, Refusal};

/// Beyond this many entries a cache starts over rather than grow, unless made
/// [`LoadingCache::bounded`].
const MAX_ENTRIES: usize = 10_000;

/// The ingress cache: `None` caches "no such (enabled) source".
pub type SourceCache = LoadingCache<ActiveSource>;

impl SourceCache {
    /// The source `source_id` from the cache, or from `load` (which must read the store
    /// afresh). Unknown sources come back as `UnknownSource`, cached like known ones.
    pub async fn source<L, F>(
        self: &Arc<Self>,
        source_id: &str,
        load: L,
    ) -> Result<Arc<ActiveSource>, Refusal>
    where
        L: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<ActiveSource, Refusal>> + Send + 'static,
    {
        let unknown_is_none = || async move {
            match load().await {
                Ok(source) => Ok(Some(source)),
                Err(Refusal::UnknownSource) => Ok(None),
                Err(error) => Err(error),
            }
        };
        self.get_or_load(source_id, unknown_is_none)
            .await?
            .ok_or(Refusal::UnknownSource)
    }
}

struct Entry<V> {
    /// When the load that produced this entry started.
    loaded: Instant,
    value: Option<Arc<V>>,
    /// A background reload is under way (only one at a time).
    refreshing: bool,
}

struct Entries<V> {
    map: HashMap<String, Entry<V>>,
    /// Bumped by every invalidation: a load that started before one is not cached.
    epoch: u64,
}

/// Taken before a load starts; the load's result is cached only if still current.
#[derive(Clone, Copy)]
struct Ticket {
    started: Instant,
    epoch: u64,
}

/// A short-lived cache of `Option<Arc<V>>` by string key, with single-flight loads and
/// reloads ahead of expiry (see the module doc).
pub struct LoadingCache<V> {
    ttl: Duration,
    /// Beyond this many entries the cache starts over rather than grow.
    max_entries: usize,
    entries: Mutex<Entries<V>>,
    /// One lock per key being loaded on a miss, so a miss is loaded once.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What [`LoadingCache::lookup`] found.
enum Lookup<V> {
    /// A fresh value; `refresh` is set for the one caller chosen to reload it early.
    Hit {
        value: Option<Arc<V>>,
        refresh: bool,
    },
    Miss,
}

impl<V: Send + Sync + 'static> LoadingCache<V> {
    pub fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_ENTRIES)
    }

    /// A cache that starts over past `max_entries` entries.
    pub fn bounded(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                epoch: 0,
            }),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`: cached if fresh, else loaded by `load` (once, however many
    /// callers miss together). A cached value past half its life is reloaded in the
    /// background (a spawned task) while this and later callers use it.
    pub async fn get_or_load<L, F, E>(
        self: &Arc<Self>,
        key: &str,
        load: L,
    ) -> Result<Option<Arc<V>>, E>
    where
        L: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: Send + 'static,
    {
        match self.lookup(key, Instant::now(), true) {
            Lookup::Hit { value, refresh } => {
                if refresh {
                    self.spawn_refresh(key, load);
                }
                Ok(value)
            }
            Lookup::Miss => self.load_once(key, load).await,
        }
    }

    /// Forgets `key` at once, including any load of it already under way.
    pub fn invalidate(&self, key: &str) {
        let mut entries = self.lock_entries();
        entries.epoch += 1;
        entries.map.remove(key);
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fresh entry for `key`; with `may_refresh`, the first caller past half its
    /// life is told to reload it.
    fn lookup(&self, key: &str, now: Instant, may_refresh: bool) -> Lookup<V> {
        let mut entries = self.lock_entries();
        let Some(entry) = entries.map.get_mut(key) else {
            return Lookup::Miss;
        };
        let age = now.saturating_duration_since(entry.loaded);
        if age >= self.ttl {
            return Lookup::Miss;
        }
        let refresh = may_refresh && age >= self.ttl / 2 && !entry.refreshing;
        entry.refreshing |= refresh;
        Lookup::Hit {
            value: entry.value.clone(),
            refresh,
        }
    }

    fn ticket(&self) -> Ticket {
        // Read the clock under the lock, so an invalidation is either before the start
        // (a newer epoch is seen here) or counted against this ticket.
        let entries = self.lock_entries();
        Ticket {
            started: Instant::now(),
            epoch: entries.epoch,
        }
    }

    /// Caches what a load returned, unless an invalidation came after the load started
    /// or a load that started later is already cached.
    fn store(&self, key: &str, ticket: Ticket, value: Option<Arc<V>>) {
        let mut entries = self.lock_entries();
        if entries.epoch != ticket.epoch {
            return;
        }
        if entries
            .map
            .get(key)
            .is_some_and(|e| e.loaded > ticket.started)
        {
            return;
        }
        if entries.map.len() >= self.max_entries {
            entries.map.clear();
        }
        let entry = Entry {
            loaded: ticket.started,
            value,
            refreshing: false,
        };
        entries.map.insert(key.to_owned(), entry);
    }

    /// A failed background reload: the entry stays until it expires, and the next
    /// caller past half its life tries again.
    fn refresh_failed(&self, key: &str) {
        if let Some(entry) = self.lock_entries().map.get_mut(key) {
            entry.refreshing = false;
        }
    }

    fn spawn_refresh<L, F, E>(self: &Arc<Self>, key: &str, load: L)
    where
        L: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: Send + 'static,
    {
        let cache = Arc::clone(self);
        let key = key.to_owned();
        tokio::spawn(async move {
            let ticket = cache.ticket();
            match load().await {
                Ok(value) => cache.store(&key, ticket, value.map(Arc::new)),
                // The caller that would see this error is served from the cache; a
                // miss after expiry reports it.
                Err(_) => cache.refresh_failed(&key),
            }
        });
    }

    async fn load_once<L, F, E>(&self, key: &str, load: L) -> Result<Option<Arc<V>>, E>
    where
        L: FnOnce() -> F,
        F: Future<Output = Result<Option<V>, E>>,
    {
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(loading.entry(key.to_owned()).or_default())
        };
        let _turn = lock.lock().await;
        // Whoever held the lock before may have just loaded it.
        if let Lookup::Hit { value, .. } = self.lookup(key, Instant::now(), false) {
            return Ok(value);
        }
        let ticket = self.ticket();
        let loaded = load().await.map(|value| value.map(Arc::new));
        if let Ok(value) = &loaded {
            self.store(key, ticket, value.clone());
        }
        // Later misses make a fresh lock; waiters on this one find the value cached.
        self.loading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // Long enough that a busy CI machine does not overshoot the steps below by half of it.
    const TTL: Duration = Duration::from_secs(1);

    type Loaded = Result<Option<&'static str>, ()>;
    type Loading = std::pin::Pin<Box<dyn Future<Output = Loaded> + Send>>;

    /// A loader that counts its calls and returns `value` after `delay`.
    fn loader(
        calls: &Arc<AtomicUsize>,
        value: &'static str,
        delay: Duration,
    ) -> impl FnOnce() -> Loading + Send + 'static {
        let calls = Arc::clone(calls);
        move || {
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                Ok(Some(value))
            })
        }
    }

    fn failing(
        calls: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> std::future::Ready<Loaded> + Send + 'static {
        let calls = Arc::clone(calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(()))
        }
    }

    async fn get(
        cache: &Arc<LoadingCache<&'static str>>,
        calls: &Arc<AtomicUsize>,
        value: &'static str,
    ) -> Option<&'static str> {
        let load = loader(calls, value, Duration::ZERO);
        let got = cache.get_or_load("src_a", load).await;
        got.ok().flatten().map(|v| *v)
    }

    #[tokio::test]
    async fn a_burst_of_misses_loads_the_source_once() {
        let cache = Arc::new(LoadingCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        let requests = (0..64).map(|_| {
            let cache = Arc::clone(&cache);
            let load = loader(&calls, "v1", Duration::from_millis(50));
            tokio::spawn(async move { cache.get_or_load("src_a", load).await })
        });
        for request in futures_util::future::join_all(requests).await {
            let value = request.unwrap().unwrap();
            assert_eq!(value.as_deref(), Some(&"v1"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_source_past_half_its_life_is_reloaded_in_the_background_while_served() {
        let cache = Arc::new(LoadingCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(get(&cache, &calls, "v1").await, Some("v1"));
        tokio::time::sleep(TTL / 2).await;
        // The reload takes a while: these callers are answered from the cache meanwhile,
        // and only the first of them starts it.
        let slow = loader(&calls, "v2", Duration::from_millis(100));
        let served = cache.get_or_load("src_a", slow).await.unwrap();
        assert_eq!(served.as_deref(), Some(&"v1"));
        assert_eq!(get(&cache, &calls, "other").await, Some("v1"));
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(get(&cache, &calls, "unused").await, Some("v2"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_source_is_never_served_past_its_lifetime() {
        let cache = Arc::new(LoadingCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(get(&cache, &calls, "v1").await, Some("v1"));
        tokio::time::sleep(TTL).await;
        assert_eq!(get(&cache, &calls, "v2").await, Some("v2"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_sources_are_cached_and_errors_are_not() {
        let cache = Arc::new(LoadingCache::<&'static str>::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        assert!(cache.get_or_load("src_a", failing(&calls)).await.is_err());
        assert!(cache.get_or_load("src_a", failing(&calls)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let none = || std::future::ready(Ok::<_, ()>(None));
        assert_eq!(cache.get_or_load("src_b", none).await, Ok(None));
        assert_eq!(cache.get_or_load("src_b", failing(&calls)).await, Ok(None));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_invalidation_discards_a_load_already_under_way() {
        let cache = Arc::new(LoadingCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        let slow = loader(&calls, "before the change", Duration::from_millis(100));
        let pending = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.get_or_load("src_a", slow).await })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        cache.invalidate("src_a");
        // The caller that asked before the change gets what it loaded...
        let early = pending.await.unwrap().unwrap();
        assert_eq!(early.as_deref(), Some(&"before the change"));
        // ...but nobody after the change does.
        assert_eq!(get(&cache, &calls, "after").await, Some("after"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_background_reload_keeps_the_entry_until_it_expires_and_is_retried() {
        let cache = Arc::new(LoadingCache::new(TTL));
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(get(&cache, &calls, "v1").await, Some("v1"));
        tokio::time::sleep(TTL / 2).await;
        let served = cache.get_or_load("src_a", failing(&calls)).await;
        assert_eq!(served.unwrap().as_deref(), Some(&"v1"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // The next caller still sees v1 and tries the reload again.
        assert_eq!(get(&cache, &calls, "v2").await, Some("v1"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(get(&cache, &calls, "unused").await, Some("v2"));
    }
}
