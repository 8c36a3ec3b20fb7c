//! The bounded key map of the local stores (the in-memory store's shards, the KV
//! store's read-your-writes cache): a hash map with its keys in insertion order, so
//! inserting a key can sweep old ones in amortized steps and a hard cap drops the
//! oldest.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Old keys examined per insertion.
const SWEEP_STEPS: usize = 2;

/// Inserts a new `key` (not yet in `map`), then looks at the oldest few keys: those
/// `live` says are done are dropped, the others rotate to the back; finally drops the
/// oldest keys, live or not, until `map` holds at most `capacity`. `order` holds every
/// key of `map` once.
#[inline]
pub(crate) fn insert<K, V, S>(
    map: &mut HashMap<K, V, S>,
    order: &mut VecDeque<K>,
    key: K,
    value: V,
    live: impl Fn(&V) -> bool,
    capacity: usize,
) where
    K: Copy + Eq + Hash,
    S: BuildHasher,
{
    map.insert(key, value);
    order.push_back(key);
    for _ in 0..SWEEP_STEPS {
        let Some(oldest) = order.pop_front() else {
            break;
        };
        match map.get(&oldest) {
            Some(value) if live(value) => order.push_back(oldest),
            _ => {
                map.remove(&oldest);
            }
        }
    }
    while map.len() > capacity {
        match order.pop_front() {
            Some(oldest) => {
                map.remove(&oldest);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_done_keys_and_caps_the_rest() {
        let (mut map, mut order) = (HashMap::new(), VecDeque::new());
        for key in 0..10u64 {
            insert(&mut map, &mut order, key, key, |value| *value >= 5, 100);
        }
        // Keys below 5 were swept as later ones arrived; every key is in `order` once.
        assert!(map.keys().all(|key| *key >= 4), "{map:?}");
        assert_eq!(map.len(), order.len());
        for key in 10..20u64 {
            insert(&mut map, &mut order, key, key, |_| true, 3);
        }
        let mut kept: Vec<u64> = map.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, [17, 18, 19], "the cap drops the oldest keys");
        assert_eq!(order.len(), 3);
    }
}
