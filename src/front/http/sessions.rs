//! The listener's table of legacy-era sessions (`Mcp-Session-Id`), bounded and expiring.
//!
//! Owns minting session ids (128 bits from the operating system's random source, so they cannot
//! be guessed), lookup, idle expiry and the bound: when the table is full the session used least
//! recently is evicted (its client gets 404 and starts a new one, as the transport specifies), so
//! one client opening sessions in a loop cannot lock everyone else out. It never treats an id as
//! proof of who the caller is, and never knows what a session does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fresh, unguessable session id: 32 lowercase hex digits (visible ASCII, as required).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Without an OS random source no id is safe to hand out; this cannot happen on Linux.
        panic!("no operating-system random source: {e}");
    }
    hex::encode(bytes)
}

struct Entry<T> {
    value: Arc<T>,
    last_used: Instant,
}

/// Sessions by id.
pub struct Table<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
    max: usize,
    idle: Duration,
}

impl<T> Table<T> {
    pub fn new(max: usize, idle: Duration) -> Table<T> {
        Table {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
            idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a session under a new id; returns the id and the session it evicted to make room.
    pub fn insert(&self, value: Arc<T>) -> (String, Option<Arc<T>>) {
        let id = new_id();
        let mut map = self.lock();
        let evicted = if map.len() >= self.max {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            oldest.and_then(|k| map.remove(&k)).map(|e| e.value)
        } else {
            None
        };
        map.insert(
            id.clone(),
            Entry {
                value,
                last_used: Instant::now(),
            },
        );
        (id, evicted)
    }

    /// The session with this id, marking it used; `None` when unknown or expired.
    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        let mut map = self.lock();
        let now = Instant::now();
        let expired = map
            .get(id)
            .is_some_and(|e| now.duration_since(e.last_used) > self.idle);
        if expired {
            map.remove(id);
            return None;
        }
        map.get_mut(id).map(|e| {
            e.last_used = now;
            Arc::clone(&e.value)
        })
    }

    /// Marks a session used (a stream that is still open keeps its session alive).
    pub fn touch(&self, id: &str) {
        if let Some(e) = self.lock().get_mut(id) {
            e.last_used = Instant::now();
        }
    }

    pub fn remove(&self, id: &str) -> Option<Arc<T>> {
        self.lock().remove(id).map(|e| e.value)
    }

    /// Removes and returns every session idle for longer than the idle limit.
    pub fn expire(&self) -> Vec<Arc<T>> {
        let now = Instant::now();
        let mut map = self.lock();
        let stale: Vec<String> = map
            .iter()
            .filter(|(_, e)| now.duration_since(e.last_used) > self.idle)
            .map(|(k, _)| k.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|k| map.remove(&k).map(|e| e.value))
            .collect()
    }

    /// Removes every session (shutdown).
    pub fn drain(&self) -> Vec<Arc<T>> {
        self.lock().drain().map(|(_, e)| e.value).collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn full_table_evicts_the_least_recently_used() {
        let t: Table<u32> = Table::new(2, Duration::from_secs(60));
        let (a, _) = t.insert(Arc::new(1));
        let (b, _) = t.insert(Arc::new(2));
        std::thread::sleep(Duration::from_millis(2));
        assert!(t.get(&a).is_some(), "a is now the most recently used");
        let (c, evicted) = t.insert(Arc::new(3));
        assert_eq!(evicted.as_deref(), Some(&2));
        assert!(t.get(&b).is_none());
        assert!(t.get(&a).is_some() && t.get(&c).is_some());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn idle_sessions_expire() {
        let t: Table<u32> = Table::new(10, Duration::from_millis(1));
        let (a, _) = t.insert(Arc::new(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(t.expire().len(), 1);
        assert!(t.get(&a).is_none());
        assert!(t.is_empty());
    }
}
