//! The two-layer network, its scaled softplus activation and the soft-hinge loss.
//!
//! For an input x in R^d rescaled to squared norm d:
//! zhat = d^-1/2 W0 x, z = sigma(zhat), f(theta, x) = h^-1/2 W1 z,
//! with W0 of shape hidden x d and W1 of shape classes x hidden, no biases, all entries
//! drawn from N(0, 1). The trained model is F(x) = alpha (f(theta, x) - f(theta_0, x)), and
//! the loss is L = 1 / (alpha^2 n) * sum over samples and classes of l(F, y).

pub mod activation;
pub mod init;
pub mod loss;

pub use activation::{Activation, ActivationNorm};
pub use init::InitialWeights;

/// Number of classes of every supported dataset.
pub const CLASSES: usize = 10;
