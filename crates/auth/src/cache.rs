//! A cache that forgets everything once it holds its budget of bytes. What the caches here
//! hold can always be worked out again, so a rare clear costs little and needs no eviction
//! policy; a byte budget (not a count) keeps large entries from growing it.

use std::collections::HashMap;
use std::sync::Mutex;

use metrics::{Counter, counter};

/// What an entry costs beyond its key and the heap data `weight` counts: the table slot,
/// the key's and the value's inline parts.
const ENTRY_OVERHEAD: usize = 64;

pub struct Cache<V> {
    entries: Mutex<Entries<V>>,
    budget: usize,
    /// The heap bytes a value holds (its strings, say).
    weight: fn(&V) -> usize,
    hits: Counter,
    misses: Counter,
}

/// Lookups per cache (`cache` label: the name given to [`Cache::new`]) and result.
pub const CACHE_LOOKUPS: &str = "auth_gateway_cache_lookups_total";

struct Entries<V> {
    map: HashMap<String, V>,
    bytes: usize,
}

impl<V: Clone> Cache<V> {
    pub fn new(name: &'static str, budget: usize, weight: fn(&V) -> usize) -> Self {
        Cache {
            entries: Mutex::new(Entries { map: HashMap::new(), bytes: 0 }),
            budget,
            weight,
            hits: counter!(CACHE_LOOKUPS, "cache" => name, "result" => "hit"),
            misses: counter!(CACHE_LOOKUPS, "cache" => name, "result" => "miss"),
        }
    }

    fn cost(&self, key: &str, value: &V) -> usize {
        key.len() + std::mem::size_of::<V>() + ENTRY_OVERHEAD + (self.weight)(value)
    }

    /// The entry at `key` if `usable` says it still is (current, not too old): a hit.
    pub fn get(&self, key: &str, usable: impl FnOnce(&V) -> bool) -> Option<V> {
        let found = self.entries.lock().ok().and_then(|e| e.map.get(key).filter(|v| usable(v)).cloned());
        if found.is_some() { &self.hits } else { &self.misses }.increment(1);
        found
    }

    pub fn insert(&self, key: &str, value: V) {
        let cost = self.cost(key, &value);
        if cost > self.budget {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if let Some(old) = entries.map.remove(key) {
            entries.bytes -= self.cost(key, &old);
        }
        if entries.bytes + cost > self.budget {
            entries.map = HashMap::new();
            entries.bytes = 0;
        }
        entries.bytes += cost;
        entries.map.insert(key.to_owned(), value);
    }

    /// The bytes the entries are counted at.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.bytes)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_whatever_the_sizes_of_keys_and_values() {
        let map = Cache::new("test", 10_000, |v: &String| v.len());
        for i in 0..1_000 {
            map.insert(&format!("key-{i}-{}", "k".repeat(i % 300)), "v".repeat(i % 500));
            assert!(map.bytes() <= 10_000, "{} bytes after {i} inserts", map.bytes());
        }
        // A value larger than the whole budget is not kept (and does not clear the rest).
        let before = map.len();
        map.insert("huge", "x".repeat(20_000));
        assert_eq!((map.get("huge", |_| true), map.len()), (None, before));
        // Replacing a key counts it once.
        let map = Cache::new("test", 10_000, |v: &String| v.len());
        for _ in 0..100 {
            map.insert("same", "v".repeat(100));
        }
        assert_eq!(map.len(), 1);
        assert_eq!(map.bytes(), "same".len() + std::mem::size_of::<String>() + ENTRY_OVERHEAD + 100);
    }
}
