//! The optional in-process cache of aggregate states behind [`Repository::with_cache`].
//!
//! [`Repository::with_cache`]: super::Repository::with_cache

use super::Loaded;
use crate::id::StreamId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

/// A bounded map from stream to the state last seen by a command of this process, evicting the
/// least recently stored entry when full.
///
/// A command takes its stream's entry out (so two commands of this process never share a state),
/// and puts the new state back after its append succeeded. Staleness is harmless for correctness:
/// the append is guarded by the cached version, so a state that another writer overtook makes the
/// append conflict, and the repository then reloads from the store.
pub(crate) struct AggregateCache<A> {
    capacity: usize,
    inner: Mutex<Inner<A>>,
}

struct Inner<A> {
    /// Each entry with the tick it was stored at.
    entries: HashMap<StreamId, (Loaded<A>, u64)>,
    /// Streams in storing order, each with its tick; a pair whose tick no longer matches the entry
    /// is stale and skipped.
    order: VecDeque<(StreamId, u64)>,
    tick: u64,
}

impl<A> AggregateCache<A> {
    /// A cache of at most `capacity` states (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                tick: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<A>> {
        // The lock guards plain map operations that cannot leave the map half-changed.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the state of `stream` out of the cache.
    pub(crate) fn take(&self, stream: &StreamId) -> Option<Loaded<A>> {
        self.lock().entries.remove(stream).map(|(loaded, _)| loaded)
    }

    /// Stores `loaded` for `stream`, unless a state of a newer version is stored already.
    pub(crate) fn put(&self, stream: &StreamId, loaded: Loaded<A>) {
        let mut inner = self.lock();
        if inner
            .entries
            .get(stream)
            .is_some_and(|(held, _)| held.version >= loaded.version)
        {
            return;
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.insert(stream.clone(), (loaded, tick));
        inner.order.push_back((stream.clone(), tick));
        while inner.entries.len() > self.capacity {
            let Some((oldest, at)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&oldest).is_some_and(|(_, t)| *t == at) {
                inner.entries.remove(&oldest);
            }
        }
        // Stale pairs pile up when the same streams are stored again and again below capacity.
        if inner.order.len() > 2 * self.capacity + 16 {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(stream, at)| entries.get(stream).is_some_and(|(_, t)| t == at));
        }
    }

    /// Drops the state of `stream` if it is older than `version` (it misses events known to be
    /// stored).
    pub(crate) fn forget_older_than(&self, stream: &StreamId, version: crate::id::Version) {
        let mut inner = self.lock();
        if inner
            .entries
            .get(stream)
            .is_some_and(|(held, _)| held.version < version)
        {
            inner.entries.remove(stream);
        }
    }

    /// How many states are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Version;

    fn loaded(v: u64) -> Loaded<u64> {
        Loaded {
            state: v,
            version: Version(v),
        }
    }

    fn stream(n: usize) -> StreamId {
        StreamId::new(format!("s-{n}")).expect("valid stream id")
    }

    #[test]
    fn evicts_the_least_recently_stored() {
        let cache = AggregateCache::new(2);
        cache.put(&stream(1), loaded(1));
        cache.put(&stream(2), loaded(1));
        // Storing stream 1 again makes stream 2 the oldest.
        let one = cache.take(&stream(1)).expect("cached");
        cache.put(
            &stream(1),
            Loaded {
                version: Version(2),
                ..one
            },
        );
        cache.put(&stream(3), loaded(1));
        assert_eq!(cache.len(), 2);
        assert!(cache.take(&stream(2)).is_none());
        assert_eq!(cache.take(&stream(1)).map(|l| l.version), Some(Version(2)));
        assert!(cache.take(&stream(3)).is_some());
    }

    #[test]
    fn never_replaces_a_newer_state() {
        let cache = AggregateCache::new(4);
        cache.put(&stream(1), loaded(5));
        cache.put(&stream(1), loaded(3));
        assert_eq!(cache.take(&stream(1)).map(|l| l.version), Some(Version(5)));
        assert!(cache.take(&stream(1)).is_none(), "take removes the entry");
    }

    #[test]
    fn forgets_only_older_states() {
        let cache = AggregateCache::new(4);
        cache.put(&stream(1), loaded(5));
        cache.forget_older_than(&stream(1), Version(5));
        assert_eq!(cache.len(), 1, "a state at the version is current");
        cache.forget_older_than(&stream(1), Version(6));
        assert_eq!(cache.len(), 0);
        cache.forget_older_than(&stream(2), Version(1));
    }

    #[test]
    fn the_order_queue_stays_bounded() {
        let cache = AggregateCache::new(3);
        for v in 1..10_000 {
            cache.put(&stream(v % 2), loaded(v as u64));
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.lock().order.len() <= 2 * 3 + 16);
    }
}
