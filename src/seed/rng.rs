//! A tiny deterministic generator (SplitMix64) so the seeded data never changes with a
//! dependency upgrade: the same seed gives the same rows on every build and platform.

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially stable.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, to turn a stream name into a number.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: mix(seed) }
    }

    /// An independent stream for one table, so adding a column to one table does not
    /// reshuffle every other table.
    pub fn stream(seed: u64, name: &str, salt: u64) -> Self {
        Self::new(seed ^ mix(fnv(name)) ^ mix(salt.wrapping_add(GOLDEN)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `0..n` (`n > 0`; returns 0 for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a slice of length `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Picks from `(item, weight)` pairs.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (item, w) in items {
            if r < u64::from(*w) {
                return *item;
            }
            r -= u64::from(*w);
        }
        items[items.len() - 1].0
    }

    /// An index in `0..n` where earlier indexes are more common: weight 1/(i + n/10),
    /// so the first entry is about 11 times as likely as the last (as surnames and towns
    /// are in real data).
    pub fn skewed_index(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let n_f = n as f64;
        let k = (n_f / 10.0).max(1.0);
        // Inverse of the continuous CDF ln((x + k) / k) / ln((n + k) / k).
        let x = k * ((n_f + k) / k).powf(self.unit()) - k;
        (x.floor().max(0.0) as usize).min(n - 1)
    }

    pub fn skewed<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.skewed_index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sequence_never_changes() {
        // Reference values of SplitMix64 seeded with 0 (after the initial mix of the seed).
        let mut r = Rng { state: 0 };
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut a = Rng::stream(7, "contacts", 0);
        let mut b = Rng::stream(7, "contacts", 0);
        let mut c = Rng::stream(7, "leads", 0);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let v = r.range(-3, 5);
            assert!((-3..=5).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.skewed(&[1, 2, 3]) <= 3);
        }
        assert_eq!(r.below(0), 0);
    }
}
