//! A map that forgets everything once it is full. The caches here hold answers that can
//! always be worked out again, so a rare clear costs little and needs no eviction policy.

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries a map holds before it starts over: a few MB at most.
const CAPACITY: usize = 50_000;

pub struct BoundedMap<V>(Mutex<HashMap<String, V>>);

impl<V> Default for BoundedMap<V> {
    fn default() -> Self {
        BoundedMap(Mutex::default())
    }
}

impl<V: Clone> BoundedMap<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        self.0.lock().ok()?.get(key).cloned()
    }

    pub fn insert(&self, key: &str, value: V) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(key.to_owned(), value);
        }
    }
}
