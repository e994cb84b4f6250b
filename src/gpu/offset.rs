//! The hidden layer at theta_0 that the offset formulation on the GPU starts from.

use crate::cpu::gemm::{MatMut, MatRef, gemm};
use crate::engine::Problem;
use crate::model::activation::{BETA, logistic};

/// zhat_0, logistic(beta zhat_0) and sigma(zhat_0) of one set of samples, each
/// rows x hidden and row-major, computed in float64 and rounded to float32.
pub(super) struct HiddenAtStart {
    pub zhat: Vec<f32>,
    pub logistic: Vec<f32>,
    pub z: Vec<f32>,
}

/// The hidden layer at theta_0 on the training and the test set. Every cell of a batch
/// shares it.
pub(super) struct StartLayer {
    pub train: HiddenAtStart,
    pub test: HiddenAtStart,
}

impl StartLayer {
    /// Computes zhat_0 = X W0_0^T / sqrt(d) in float64 on both sets and the values
    /// derived from it.
    pub fn compute(problem: Problem<'_>) -> Self {
        let data = problem.data;
        Self {
            train: HiddenAtStart::compute(problem, &data.x_train, data.n_train()),
            test: HiddenAtStart::compute(problem, &data.x_test, data.n_test()),
        }
    }
}

impl HiddenAtStart {
    fn compute(problem: Problem<'_>, x: &[f64], rows: usize) -> Self {
        let (d, h) = (problem.data.d, problem.init.hidden);
        let activation = problem.settings.activation;
        let mut zhat = vec![0.0; rows * h];
        gemm(
            1.0 / (d as f64).sqrt(),
            MatRef::row_major(x, rows, d),
            MatRef::row_major(&problem.init.w0, h, d).t(),
            MatMut::row_major(&mut zhat, rows, h),
        );
        Self {
            logistic: zhat.iter().map(|&u| logistic(BETA * u) as f32).collect(),
            z: zhat.iter().map(|&u| activation.value(u) as f32).collect(),
            zhat: zhat.iter().map(|&u| u as f32).collect(),
        }
    }

    /// Returns the three arrays restricted to `rows` samples from `start`.
    pub fn rows(&self, start: usize, rows: usize, hidden: usize) -> [&[f32]; 3] {
        let range = start * hidden..(start + rows) * hidden;
        [
            &self.zhat[range.clone()],
            &self.logistic[range.clone()],
            &self.z[range],
        ]
    }
}
