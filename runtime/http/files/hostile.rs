//! Hostile inputs for the parsers' tests in this folder: strings of the
//! fragments that matter to a parser, drawn by a fixed-seed xorshift (no rand
//! crate), the same on every run.
//!
//! Each parser includes this file in its own tests by path, as
//! `examples/file_server` includes the parsers themselves: every parser's file
//! stays usable on its own, and the generator is written once.

/// 20,000 strings of up to 11 fragments of `alphabet` each.
pub(super) fn inputs(alphabet: &'static [&'static str]) -> impl Iterator<Item = String> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..20_000).map(move |_| {
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let n = next() % 12;
        (0..n)
            .map(|_| alphabet[next() as usize % alphabet.len()])
            .collect()
    })
}
