//! bcrypt's expensive key schedule (EksBlowfish) for several passwords at once.
//!
//! One bcrypt is a chain of dependent table lookups: a core spends most of each round
//! waiting for the previous one. Running up to [`LANES`] independent hashes side by side
//! in one thread fills those waits, so a batch of four costs little more than one hash.
//! The output is bcrypt's, byte for byte (the tests hold it to the `bcrypt` crate).

use super::pi;
use zeroize::Zeroize;

/// Hashes computed side by side at most: four give about 3.4 times the hashes per second
/// of one on x86-64, more add little and make each login wait longer.
pub const LANES: usize = 4;

/// The bcrypt magic text, "OrpheanBeholderScryDoubt", as three blocks.
const MAGIC: [[u32; 2]; 3] = [[0x4f72_7068, 0x6561_6e42], [0x6568_6f6c, 0x6465_7253], [0x6372_7944, 0x6f75_6274]];

struct State {
    p: [u32; 18],
    s: [u32; 1024],
}

impl State {
    fn initial() -> Self {
        let mut s = [0; 1024];
        for (table, digits) in s.chunks_exact_mut(256).zip(pi::S) {
            table.copy_from_slice(&digits);
        }
        State { p: pi::P, s }
    }

    fn xor_p(&mut self, words: &[u32; 18]) {
        self.p.iter_mut().zip(words).for_each(|(p, w)| *p ^= w);
    }

    #[inline(always)]
    fn f(&self, x: u32) -> u32 {
        let s = &self.s;
        let a = s[(x >> 24) as usize];
        let b = s[256 + ((x >> 16) & 0xff) as usize];
        let c = s[512 + ((x >> 8) & 0xff) as usize];
        let d = s[768 + (x & 0xff) as usize];
        (a.wrapping_add(b) ^ c).wrapping_add(d)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.p.zeroize();
        self.s.zeroize();
    }
}

/// `x ^ p`, computed before the round's lookups finish. Alone in a thread the compiler
/// would otherwise apply `p` after them, one more step on the critical path (about 9%);
/// with several lanes the other lanes hide that step, and the barrier would only cost.
#[inline(always)]
fn early<const N: usize>(x: u32, p: u32) -> u32 {
    if N == 1 { std::hint::black_box(x ^ p) } else { x ^ p }
}

/// One Blowfish encryption in every lane.
#[inline(always)]
fn encrypt<const N: usize>(states: &[State; N], blocks: &mut [[u32; 2]; N]) {
    for (st, [l, _]) in states.iter().zip(blocks.iter_mut()) {
        *l ^= st.p[0];
    }
    for round in 0..8 {
        for (st, [l, r]) in states.iter().zip(blocks.iter_mut()) {
            *r = early::<N>(*r, st.p[2 * round + 1]) ^ st.f(*l);
        }
        for (st, [l, r]) in states.iter().zip(blocks.iter_mut()) {
            *l = early::<N>(*l, st.p[2 * round + 2]) ^ st.f(*r);
        }
    }
    for (st, [l, r]) in states.iter().zip(blocks.iter_mut()) {
        (*l, *r) = (*r ^ st.p[17], *l);
    }
}

/// Replaces P and then S with the chained encryption of a zero block, each block first
/// mixed with the salt's four words in turn when `SALTED` (bcrypt's first expansion only).
#[inline(always)]
fn expand<const N: usize, const SALTED: bool>(states: &mut [State; N], salts: &[[u32; 18]; N]) {
    let mut blocks = [[0u32; 2]; N];
    for i in 0..(18 + 1024) / 2 {
        if SALTED {
            let half = 2 * (i % 2);
            for (block, salt) in blocks.iter_mut().zip(salts) {
                block[0] ^= salt[half];
                block[1] ^= salt[half + 1];
            }
        }
        encrypt(states, &mut blocks);
        for (st, block) in states.iter_mut().zip(&blocks) {
            let slot = if i < 9 { &mut st.p[2 * i..2 * i + 2] } else { &mut st.s[2 * (i - 9)..2 * (i - 9) + 2] };
            slot.copy_from_slice(block);
        }
    }
}

/// Big-endian words read cyclically from `bytes` (non-empty), as Blowfish keys are.
fn cyclic_words<const W: usize>(bytes: &[u8]) -> [u32; W] {
    let mut cycle = bytes.iter().cycle();
    std::array::from_fn(|_| (0..4).fold(0, |w, _| (w << 8) | u32::from(*cycle.next().expect("a non-empty key"))))
}

/// The 24 raw bytes bcrypt computes (its hash string keeps the first 23) for each lane's
/// salt and key. A key is the password with its terminating zero, 1 to 72 bytes.
pub fn bcrypt<const N: usize>(cost: u32, salts: [&[u8; 16]; N], keys: [&[u8]; N]) -> [[u8; 24]; N] {
    assert!((4..=31).contains(&cost), "bcrypt cost out of range");
    assert!(keys.iter().all(|k| (1..=72).contains(&k.len())), "bcrypt key length out of range");
    let mut key_words: [[u32; 18]; N] = std::array::from_fn(|i| cyclic_words(keys[i]));
    let salt_words: [[u32; 18]; N] = std::array::from_fn(|i| cyclic_words(salts[i]));

    let mut states: Box<[State; N]> = Box::new(std::array::from_fn(|_| State::initial()));
    let xor_all = |states: &mut [State; N], words: &[[u32; 18]; N]| {
        states.iter_mut().zip(words).for_each(|(st, w)| st.xor_p(w));
    };
    xor_all(&mut states, &key_words);
    expand::<N, true>(&mut states, &salt_words);
    for _ in 0..1u64 << cost {
        xor_all(&mut states, &key_words);
        expand::<N, false>(&mut states, &salt_words);
        xor_all(&mut states, &salt_words);
        expand::<N, false>(&mut states, &salt_words);
    }
    key_words.zeroize();

    let mut out = [[0u8; 24]; N];
    for (i, magic) in MAGIC.iter().enumerate() {
        let mut blocks = [*magic; N];
        for _ in 0..64 {
            encrypt(&states, &mut blocks);
        }
        for (bytes, [l, r]) in out.iter_mut().zip(blocks) {
            bytes[8 * i..8 * i + 4].copy_from_slice(&l.to_be_bytes());
            bytes[8 * i + 4..8 * i + 8].copy_from_slice(&r.to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator: the tests need variety, not secrecy.
    fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (*seed >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn matches_published_vectors() {
        // From jBCrypt's tests, as the `bcrypt` crate also checks them.
        let salt = [0x71, 0x5b, 0x96, 0xca, 0xed, 0x2a, 0xc9, 0x2c, 0x35, 0x4e, 0xd1, 0x6c, 0x1e, 0x19, 0xe3, 0x8a];
        let digest = [
            0x98, 0xbf, 0x9f, 0xfc, 0x1f, 0x5b, 0xe4, 0x85, 0xf9, 0x59, 0xe8, 0xb1, 0xd5, 0x26, 0x39, 0x2f, 0xbd, 0x4e,
            0xd2, 0xd5, 0x71, 0x9f, 0x50,
        ];
        let [out] = bcrypt(8, [&salt], [b"abcdefghijklmnopqrstuvwxyz\0"]);
        assert_eq!(out[..23], digest);
    }

    #[test]
    fn every_lane_count_matches_the_bcrypt_crate() {
        let mut seed = 7;
        for round in 0..6 {
            // Keys from 1 to 72 bytes, zero bytes included.
            let keys: Vec<Vec<u8>> = (0..LANES).map(|i| bytes(&mut seed, 1 + (round * 29 + i * 17) % 72)).collect();
            let salts: Vec<[u8; 16]> = (0..LANES).map(|_| bytes(&mut seed, 16).try_into().unwrap()).collect();
            let want: Vec<[u8; 24]> = (0..LANES).map(|i| ::bcrypt::bcrypt(4, salts[i], &keys[i])).collect();
            let key = |i: usize| keys[i].as_slice();
            assert_eq!(bcrypt(4, [&salts[0]], [key(0)]), [want[0]]);
            assert_eq!(bcrypt(4, [&salts[1], &salts[2]], [key(1), key(2)]), [want[1], want[2]]);
            assert_eq!(
                bcrypt(4, [&salts[0], &salts[1], &salts[3]], [key(0), key(1), key(3)]),
                [want[0], want[1], want[3]]
            );
            let all: [usize; LANES] = std::array::from_fn(|i| i);
            assert_eq!(bcrypt(4, all.map(|i| &salts[i]), all.map(key)).to_vec(), want);
        }
        // Costs above the minimum run the loop more than once.
        let (salt, key) = ([3u8; 16], b"password-1\0");
        assert_eq!(bcrypt(6, [&salt, &salt], [key, b"x\0"])[0], ::bcrypt::bcrypt(6, salt, key));
    }
}
