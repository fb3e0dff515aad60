//! Where new secrets and ids come from: a [`RandomSource`] passed into
//! every operation that mints something, so the lifecycle stays pure.
//!
//! [`OsRandom`] (the operating system's generator, through `getrandom`) is
//! the source for real credentials; [`SeededRandom`] (ChaCha20 from a
//! 64-bit seed) makes tests and the `manage` CLI's `--seed` reproducible
//! and must never mint real credentials.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The operating system's random generator failed; nothing was minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("randomness: the operating system's generator failed: {message}")]
pub struct RandomError {
    /// What the generator reported.
    pub message: String,
}

/// A source of random bytes for key strings and ids.
pub trait RandomSource {
    /// Fills `dest` with random bytes, or fails without minting anything.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(dest)
    }
}

/// The operating system's cryptographic generator (`getrandom`): the
/// default for real credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(dest).map_err(|e| RandomError { message: e.to_string() })
    }
}

/// A deterministic ChaCha20 stream from a 64-bit seed: the same seed gives
/// the same keys, ids and strings. For tests and reproducible scripts only —
/// a seed is guessable, so its credentials are not secret.
#[derive(Debug, Clone)]
pub struct SeededRandom(ChaCha20Rng);

impl SeededRandom {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// Base62, digits first: key strings' alphabet.
pub(crate) const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Digits and lower-case letters: ids' alphabet (Mapbox token ids are lower case).
pub(crate) const BASE36_LOWER: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `len` characters drawn uniformly from `alphabet` (2 to 256 characters):
/// bytes at or above the largest multiple of its size are rejected, so no
/// character is more likely than another.
pub(crate) fn random_chars(rng: &mut dyn RandomSource, len: usize, alphabet: &[u8]) -> Result<String, RandomError> {
    let radix = alphabet.len().clamp(2, 256);
    let cutoff = 256 - (256 % radix);
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    // Each byte is kept with probability > 3/4, so this ends after a few
    // rounds; the bound only guards against a broken source.
    for _ in 0..64 {
        if out.len() == len {
            return Ok(out);
        }
        rng.fill(&mut buf)?;
        for &byte in &buf {
            if usize::from(byte) < cutoff && out.len() < len {
                if let Some(&c) = alphabet.get(usize::from(byte) % radix) {
                    out.push(char::from(c));
                }
            }
        }
    }
    if out.len() == len {
        return Ok(out);
    }
    Err(RandomError {
        message: "the source kept returning rejected bytes".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sources_repeat_and_differ_by_seed() {
        let a = random_chars(&mut SeededRandom::new(7), 30, BASE62).unwrap();
        let b = random_chars(&mut SeededRandom::new(7), 30, BASE62).unwrap();
        let c = random_chars(&mut SeededRandom::new(8), 30, BASE62).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 30);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn radix_limits_the_alphabet() {
        let s = random_chars(&mut SeededRandom::new(1), 200, BASE36_LOWER).unwrap();
        assert!(s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let os = random_chars(&mut OsRandom, 22, BASE62).unwrap();
        assert_eq!(os.len(), 22);
    }

    struct Stuck;
    impl RandomSource for Stuck {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
            dest.fill(u8::MAX);
            Ok(())
        }
    }

    #[test]
    fn a_broken_source_is_an_error_not_a_hang() {
        assert!(random_chars(&mut Stuck, 10, BASE62).is_err());
    }
}
