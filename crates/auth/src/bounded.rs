//! A map that forgets everything once it is full. The caches here hold answers that can
//! always be worked out again, so a rare clear costs little and needs no eviction policy.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct BoundedMap<V> {
    capacity: usize,
    map: Mutex<HashMap<String, V>>,
}

impl<V: Clone> BoundedMap<V> {
    pub fn new(capacity: usize) -> Self {
        BoundedMap { capacity, map: Mutex::default() }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.map.lock().ok()?.get(key).cloned()
    }

    pub fn insert(&self, key: &str, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(key.to_owned(), value);
        }
    }
}
