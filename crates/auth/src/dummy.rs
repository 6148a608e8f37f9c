//! Unknown emails are checked against a dummy hash, so that they cost what a known account
//! costs. Accounts can have hashes of several costs (older settings, imported accounts):
//! the dummy for an email is chosen among the costs in use, in their proportions, and is
//! always the same for one email, as a real account's would be. Timing then tells neither
//! whether an account exists nor which cost its hash has.

use std::sync::RwLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::password::{self, MAX_COST};
use crate::tokens::RootKey;

pub struct DummyHashes {
    /// Keys the choice, so that it cannot be worked out from the email alone.
    key: zeroize::Zeroizing<[u8; 32]>,
    /// Each cost in use, how many accounts have it, and a dummy hash of that cost.
    costs: RwLock<Vec<(u32, i64, String)>>,
}

impl DummyHashes {
    /// Starts with the configured cost only (one bcrypt): call off the async workers.
    pub fn new(root: &RootKey, cost: u32) -> Self {
        let costs = RwLock::new(vec![(cost, 1, password::dummy_hash(cost))]);
        DummyHashes { key: root.derive("dummy hash choice v1"), costs }
    }

    /// The dummy hash an unknown `email` is checked against.
    pub fn for_email(&self, email: &str) -> String {
        let costs = self.costs.read().expect("dummy hashes lock");
        let total: i64 = costs.iter().map(|(_, n, _)| n).sum();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_ref()).expect("HMAC takes any key length");
        mac.update(email.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut pick = (u64::from_le_bytes(tag[..8].try_into().expect("8 bytes")) % total.max(1) as u64) as i64;
        for (_, n, hash) in costs.iter() {
            if pick < *n {
                return hash.clone();
            }
            pick -= n;
        }
        costs[0].2.clone()
    }

    /// Takes the costs in use from the store's counts (`cost` text and accounts), hashing
    /// a dummy for each new cost: call off the async workers (a high cost takes a second).
    pub fn update(&self, counts: &[(String, i64)]) {
        let mut usable: Vec<(u32, i64)> = counts
            .iter()
            .filter_map(|(cost, n)| Some((cost.parse::<u32>().ok().filter(|c| (4..=MAX_COST).contains(c))?, *n)))
            .collect();
        if usable.is_empty() {
            return;
        }
        usable.sort_unstable();
        let known: Vec<(u32, String)> =
            self.costs.read().expect("dummy hashes lock").iter().map(|(c, _, h)| (*c, h.clone())).collect();
        let costs = usable
            .into_iter()
            .map(|(cost, n)| {
                let hash = known.iter().find(|(c, _)| *c == cost).map(|(_, h)| h.clone());
                (cost, n, hash.unwrap_or_else(|| password::dummy_hash(cost)))
            })
            .collect();
        *self.costs.write().expect("dummy hashes lock") = costs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(hash: &str) -> u32 {
        hash[4..6].parse().unwrap()
    }

    #[test]
    fn an_email_always_gets_one_cost_and_costs_come_in_their_proportions() {
        let dummies = DummyHashes::new(&RootKey::generate(), 4);
        dummies.update(&[("04".into(), 3), ("05".into(), 1), ("99".into(), 50), ("xx".into(), 9)]);
        let picks: Vec<u32> = (0..2000).map(|i| cost_of(&dummies.for_email(&format!("u{i}@example.com")))).collect();
        let fives = picks.iter().filter(|c| **c == 5).count();
        assert!(picks.iter().all(|c| *c == 4 || *c == 5), "only usable costs");
        assert!((350..650).contains(&fives), "about a quarter at cost 5: {fives} of 2000");
        for i in 0..50 {
            let email = format!("u{i}@example.com");
            assert_eq!(dummies.for_email(&email), dummies.for_email(&email), "the same for one email");
        }
    }
}
