//! The initial parameters theta_0 shared by every cell of a sweep with the same seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// W0 (hidden x d) and W1 (classes x hidden), row-major, entries N(0, 1) when drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct InitialWeights {
    pub d: usize,
    pub hidden: usize,
    pub classes: usize,
    pub w0: Vec<f64>,
    pub w1: Vec<f64>,
}

impl InitialWeights {
    /// Draws every entry i.i.d. from N(0, 1) with ChaCha8 seeded by `seed`: W0 row by row,
    /// then W1 row by row.
    pub fn draw(d: usize, hidden: usize, classes: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sample = |count: usize| -> Vec<f64> {
            (0..count)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect()
        };
        let w0 = sample(hidden * d);
        let w1 = sample(classes * hidden);
        Self {
            d,
            hidden,
            classes,
            w0,
            w1,
        }
    }
}
