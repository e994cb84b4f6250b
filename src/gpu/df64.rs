//! Double-float (df64) arithmetic for WGSL kernels, and the self-test that checks it on
//! the adapter before any kernel relies on it.
//!
//! A df64 value is the unevaluated sum of two f32 stored as `vec2<f32>(hi, lo)`, built
//! from error-free transformations (Knuth's two-sum, Dekker's fast two-sum, Veltkamp's
//! split and Dekker's two-product). The WGSL functions are in `shaders/df64.wgsl`, which
//! a kernel prepends to its own source with [`with_df64_wgsl`]. Shader compilers that
//! apply real-number algebra can delete the error terms, so the library passes
//! intermediates through a run-time identity, and [`require_df64`] runs the self-test
//! kernel `shaders/df64_selftest.wgsl` to reject an adapter where that is not enough.

use std::borrow::Cow;

use bytemuck::{Pod, Zeroable};
use log::info;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::device::{GpuDevice, GpuError};
use super::kernels::{Access, Kernel, read_buffer, storage_buffer, zeroed_buffer};

const LIBRARY_SOURCE: &str = include_str!("../../shaders/df64.wgsl");
const SELF_TEST_SOURCE: &str = include_str!("../../shaders/df64_selftest.wgsl");

/// Operands of the two-sum check. 1e-9 is below half an ulp of 1, so the sum rounds to 1
/// and the error term must be 1e-9 exactly.
const TWO_SUM_OPERANDS: [f32; 2] = [1.0, 1e-9];

/// Operand pairs of the two-product check, `PRODUCTS` in the shader. Every exact product
/// needs more than 24 significant bits. 3.0e37 is above 2^100, where the split scales
/// its argument, and the last product is about 2^-71, near the lower end of the exact
/// range.
const TWO_PRODUCT_OPERANDS: [[f32; 2]; 4] = [
    [1.2345679, 7.654321],
    [-1234.5678, 8.765432e-4],
    [3.0e37, -1.7],
    [1.2345678e-11, 3.3e-11],
];

/// Terms of the dot-product check. With this many terms, plain f32 accumulation of the
/// generated operands has a relative error of 5.6e-6 on lavapipe.
const DOT_TERMS: usize = 16384;
const DOT_SEED: u64 = 0xdf64;

/// Coefficients of the polynomial check, `COEFFICIENTS` in the shader.
const POLYNOMIAL_COEFFICIENTS: usize = 16;

/// Maximum relative error that the dot-product and polynomial checks accept. On Mesa
/// 22.3.6 lavapipe the library measures 2.5e-14 (dot product) and 8.8e-16 (polynomial),
/// and with its guards removed 5.6e-6 and 3.8e-8.
pub const DF64_MAX_RELATIVE_ERROR: f64 = 1e-12;

/// Returns the source of `shaders/df64.wgsl`, the df64 function library. A kernel that
/// uses it must follow the contract at the top of that file: bind a u32 zero and call
/// `df64_set_guard(zero)` at the start of each entry point.
pub fn df64_wgsl() -> &'static str {
    LIBRARY_SOURCE
}

/// Returns the df64 library followed by `kernel_source`, ready for
/// `create_shader_module`.
pub fn with_df64_wgsl(kernel_source: &str) -> String {
    format!("{LIBRARY_SOURCE}\n{kernel_source}")
}

/// One two-sum computed on the GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoSumSample {
    pub a: f32,
    pub b: f32,
    /// The rounded sum that the GPU returned.
    pub sum: f32,
    /// The error term that the GPU returned.
    pub error: f32,
}

impl TwoSumSample {
    /// Returns the exact (sum, error term) of `a + b`, from Knuth's two-sum in f32 on the
    /// host, where the compiler keeps IEEE semantics.
    pub fn expected(&self) -> (f32, f32) {
        let sum = self.a + self.b;
        let b_part = sum - self.a;
        let a_part = sum - b_part;
        (sum, (self.a - a_part) + (self.b - b_part))
    }

    /// Returns whether the GPU returned the exact sum and error term, bit for bit.
    pub fn is_exact(&self) -> bool {
        let (sum, error) = self.expected();
        self.sum.to_bits() == sum.to_bits() && self.error.to_bits() == error.to_bits()
    }
}

/// One two-product computed on the GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoProductSample {
    pub a: f32,
    pub b: f32,
    /// The rounded product that the GPU returned.
    pub product: f32,
    /// The error term that the GPU returned.
    pub error: f32,
}

impl TwoProductSample {
    /// Returns a b - product computed in f64. The result is exact because the product
    /// of two f32 has at most 48 significant bits and the difference is representable.
    pub fn exact_error(&self) -> f64 {
        f64::from(self.a) * f64::from(self.b) - f64::from(self.product)
    }

    /// Returns whether the product is a b rounded to f32 and the error term equals the
    /// exact error.
    pub fn is_exact(&self) -> bool {
        self.product.to_bits() == (self.a * self.b).to_bits()
            && f64::from(self.error) == self.exact_error()
    }
}

/// Values that the df64 self-test measured on one adapter.
#[derive(Debug, Clone)]
pub struct Df64SelfTest {
    /// Adapter name, as wgpu reports it.
    pub adapter: String,
    /// `df64_two_sum(1, 1e-9)`.
    pub two_sum: TwoSumSample,
    /// Knuth's two-sum of the same operands, compiled without guards. `check` ignores
    /// it, because a compiler that defeats it may still leave the guarded library exact.
    pub unguarded_two_sum: TwoSumSample,
    /// `df64_two_prod` of operand pairs whose exact products need more than 24 bits.
    pub two_products: Vec<TwoProductSample>,
    /// Terms of the dot product.
    pub dot_terms: usize,
    /// The dot product accumulated with `df64_add` of `df64_two_prod` terms, as hi + lo.
    pub dot_df64: f64,
    /// The same dot product accumulated in plain f32 by the same kernel.
    pub dot_f32: f32,
    /// The dot product computed on the host, accurate to about 1e-16 relative.
    pub dot_exact: f64,
    /// s p(x) for a df64 x, evaluated with `df64_mul`, `df64_add_f32` and
    /// `df64_mul_f32`, as hi + lo.
    pub polynomial_df64: f64,
    /// `df64_to_f32` of the same value.
    pub polynomial_f32: f32,
    /// s p(x) evaluated in f64 on the host.
    pub polynomial_reference: f64,
}

impl Df64SelfTest {
    pub fn dot_df64_relative_error(&self) -> f64 {
        relative_error(self.dot_df64, self.dot_exact)
    }

    pub fn dot_f32_relative_error(&self) -> f64 {
        relative_error(f64::from(self.dot_f32), self.dot_exact)
    }

    pub fn polynomial_relative_error(&self) -> f64 {
        relative_error(self.polynomial_df64, self.polynomial_reference)
    }

    /// Returns whether the shader compiler defeated Knuth's two-sum written without
    /// guards, so that its error term came out wrong.
    pub fn unguarded_two_sum_defeated(&self) -> bool {
        !self.unguarded_two_sum.is_exact()
    }

    /// Returns `GpuError::Df64Unsupported` naming every check that failed, with the
    /// measured values, or `Ok` when all passed.
    pub fn check(&self) -> Result<(), GpuError> {
        let failures = self.failures();
        if failures.is_empty() {
            return Ok(());
        }
        Err(GpuError::Df64Unsupported {
            adapter: self.adapter.clone(),
            detail: failures.join("; "),
        })
    }

    fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();

        let sum = &self.two_sum;
        if !sum.is_exact() {
            let (expected_sum, expected_error) = sum.expected();
            failures.push(format!(
                "two-sum of {:e} and {:e} returned ({:e}, {:e}) instead of ({:e}, {:e})",
                sum.a, sum.b, sum.sum, sum.error, expected_sum, expected_error
            ));
        }

        for product in self.two_products.iter().filter(|p| !p.is_exact()) {
            failures.push(format!(
                "two-product of {:e} and {:e} returned ({:e}, {:e}) but the exact error \
                 term of {:e} is {:e}",
                product.a,
                product.b,
                product.product,
                product.error,
                product.a * product.b,
                product.exact_error()
            ));
        }

        let dot_error = self.dot_df64_relative_error();
        if exceeds(dot_error, DF64_MAX_RELATIVE_ERROR) {
            failures.push(format!(
                "a {}-term dot product accumulated with df64 addition has relative error \
                 {dot_error:.2e}, above the limit {DF64_MAX_RELATIVE_ERROR:e} (plain f32 \
                 accumulation: {:.2e})",
                self.dot_terms,
                self.dot_f32_relative_error()
            ));
        }

        let polynomial_error = self.polynomial_relative_error();
        if exceeds(polynomial_error, DF64_MAX_RELATIVE_ERROR) {
            failures.push(format!(
                "a polynomial evaluated with df64 multiplication has relative error \
                 {polynomial_error:.2e}, above the limit {DF64_MAX_RELATIVE_ERROR:e}"
            ));
        }

        // Rounding to nearest is within half an ulp, at most 2^-24 relative. The factor
        // leaves room for the error of the df64 value and of the f64 reference.
        let rounding_limit = 2f64.powi(-24) * (1.0 + 1e-6);
        let rounding_error =
            relative_error(f64::from(self.polynomial_f32), self.polynomial_reference);
        if exceeds(rounding_error, rounding_limit) {
            failures.push(format!(
                "df64_to_f32 returned {:e} for {:e}, a relative error of {rounding_error:.2e}, \
                 more than half an ulp",
                self.polynomial_f32, self.polynomial_reference
            ));
        }
        failures
    }
}

fn relative_error(value: f64, reference: f64) -> f64 {
    ((value - reference) / reference).abs()
}

/// Returns whether `error` is above `limit` or NaN.
fn exceeds(error: f64, limit: f64) -> bool {
    error.is_nan() || error > limit
}

/// Runs the self-test, logs its measurements and returns them, or returns
/// `GpuError::Df64Unsupported` when a check failed. Call it once per device before
/// running a kernel that uses df64.
pub fn require_df64(gpu: &GpuDevice) -> Result<Df64SelfTest, GpuError> {
    let result = self_test(gpu)?;
    info!(
        "gpu: df64 self-test on '{}': two-sum error term {:e}, dot product relative error \
         {:.2e} (f32: {:.2e}), polynomial relative error {:.2e}, unguarded two-sum {}",
        result.adapter,
        result.two_sum.error,
        result.dot_df64_relative_error(),
        result.dot_f32_relative_error(),
        result.polynomial_relative_error(),
        if result.unguarded_two_sum_defeated() {
            "defeated by the compiler, which the library's guards prevent"
        } else {
            "exact"
        }
    );
    result.check()?;
    Ok(result)
}

/// The input header of df64_selftest.wgsl (`SelfTestInput` without `dot_operands`),
/// field for field.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SelfTestHeader {
    zero: u32,
    dot_terms: u32,
    sum_operands: [f32; 2],
    product_operands: [[f32; 2]; 4],
    polynomial_x: [f32; 2],
    polynomial_scale: f32,
    pad: u32,
    polynomial_coefficients: [f32; POLYNOMIAL_COEFFICIENTS],
}

/// `SelfTestOutput` of df64_selftest.wgsl, field for field.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SelfTestOutput {
    two_sum: [f32; 2],
    unguarded_two_sum: [f32; 2],
    two_products: [[f32; 2]; 4],
    dot_df64: [f32; 2],
    dot_f32: f32,
    pad0: f32,
    polynomial: [f32; 2],
    polynomial_f32: f32,
    pad1: f32,
}

/// The polynomial check: s p(x) with p(x) = sum_k (-1)^k x^k / (k + 1), x = 1/sqrt(2)
/// held as a df64 pair and s = 1/3 rounded to f32.
struct Polynomial {
    x: [f32; 2],
    scale: f32,
    coefficients: [f32; POLYNOMIAL_COEFFICIENTS],
}

impl Polynomial {
    fn new() -> Self {
        let x = std::f64::consts::FRAC_1_SQRT_2;
        let high = x as f32;
        let low = (x - f64::from(high)) as f32;
        let coefficients = std::array::from_fn(|k| {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            (sign / (k as f64 + 1.0)) as f32
        });
        Self {
            x: [high, low],
            scale: (1.0f64 / 3.0) as f32,
            coefficients,
        }
    }

    /// Evaluates s p(x) in f64 with Horner's rule, from the same f32 inputs.
    fn evaluate(&self) -> f64 {
        let x = f64::from(self.x[0]) + f64::from(self.x[1]);
        let value = self
            .coefficients
            .iter()
            .rev()
            .fold(0.0, |value, &c| value * x + f64::from(c));
        value * f64::from(self.scale)
    }
}

/// Generates the dot-product operands: significands in [1, 2) scaled by 2^-10 to 2^10,
/// each factor positive with probability 3/4. Products of both signs and magnitudes
/// from 2^-20 to 2^22 mix. For 16384 terms the sum is 35% of the sum of absolute values
/// (condition number 2.8), so the relative error of a correct df64 sum stays small.
fn dot_operands(terms: usize) -> Vec<[f32; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(DOT_SEED);
    let mut factor = move || {
        let magnitude = rng.gen_range(1.0f32..2.0) * 2f32.powi(rng.gen_range(-10..=10));
        if rng.gen_bool(0.75) {
            magnitude
        } else {
            -magnitude
        }
    };
    (0..terms).map(|_| [factor(), factor()]).collect()
}

/// Returns sum_i x_i y_i, to about 1e-16 relative for well-conditioned sums. The
/// products of two f32 are exact in f64. Knuth's two-sum in f64 gives the rounding
/// error of each addition, and those errors are summed separately and added at the end.
/// The error is then about one f64 rounding plus a term of order (n 2^-53)^2 times the
/// sum of absolute values (an estimate, not a proven bound).
fn exact_dot(operands: &[[f32; 2]]) -> f64 {
    let mut sum = 0.0f64;
    let mut compensation = 0.0f64;
    for &[x, y] in operands {
        let term = f64::from(x) * f64::from(y);
        let new_sum = sum + term;
        let term_part = new_sum - sum;
        let sum_part = new_sum - term_part;
        compensation += (sum - sum_part) + (term - term_part);
        sum = new_sum;
    }
    sum + compensation
}

/// Compiles and runs df64_selftest.wgsl on `gpu` and returns what it measured.
/// [`Df64SelfTest::check`] decides whether the values pass.
pub fn self_test(gpu: &GpuDevice) -> Result<Df64SelfTest, GpuError> {
    use Access::{Read, ReadWrite};
    let device = &gpu.device;
    let bindings = [(0, Read), (1, ReadWrite)];
    let (library_kernel, unguarded_kernel) =
        gpu.checked("compiling the df64 self-test shader", || {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("df64_selftest"),
                source: wgpu::ShaderSource::Wgsl(Cow::Owned(with_df64_wgsl(SELF_TEST_SOURCE))),
            });
            (
                Kernel::new(device, &module, "self_test", &bindings, &[]),
                Kernel::new(device, &module, "unguarded_two_sum", &bindings, &[]),
            )
        })?;

    let dot = dot_operands(DOT_TERMS);
    let polynomial = Polynomial::new();
    let header = SelfTestHeader {
        zero: 0,
        dot_terms: DOT_TERMS as u32,
        sum_operands: TWO_SUM_OPERANDS,
        product_operands: TWO_PRODUCT_OPERANDS,
        polynomial_x: polynomial.x,
        polynomial_scale: polynomial.scale,
        pad: 0,
        polynomial_coefficients: polynomial.coefficients,
    };
    let mut input = bytemuck::bytes_of(&header).to_vec();
    input.extend_from_slice(bytemuck::cast_slice(&dot));

    let operation = "running the df64 self-test";
    let output = gpu.checked(operation, || {
        let input = storage_buffer(device, "df64 self-test input", &input);
        let output = zeroed_buffer(
            device,
            "df64 self-test output",
            size_of::<SelfTestOutput>() / 4,
        );
        let dispatches = [&library_kernel, &unguarded_kernel]
            .map(|kernel| kernel.dispatch(device, &[&input, &output], [1, 1, 1]));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for dispatch in &dispatches {
                dispatch.record(&mut pass);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        output
    })?;
    gpu.wait(operation)?;
    let values: Vec<SelfTestOutput> = read_buffer(gpu, &output, "the df64 self-test results")?;
    let values = values[0];

    let two_sum = |[sum, error]: [f32; 2]| TwoSumSample {
        a: TWO_SUM_OPERANDS[0],
        b: TWO_SUM_OPERANDS[1],
        sum,
        error,
    };
    let two_products = TWO_PRODUCT_OPERANDS
        .iter()
        .zip(values.two_products)
        .map(|(&[a, b], [product, error])| TwoProductSample {
            a,
            b,
            product,
            error,
        })
        .collect();
    let df64 = |[high, low]: [f32; 2]| f64::from(high) + f64::from(low);
    Ok(Df64SelfTest {
        adapter: gpu.info.name.clone(),
        two_sum: two_sum(values.two_sum),
        unguarded_two_sum: two_sum(values.unguarded_two_sum),
        two_products,
        dot_terms: DOT_TERMS,
        dot_df64: df64(values.dot_df64),
        dot_f32: values.dot_f32,
        dot_exact: exact_dot(&dot),
        polynomial_df64: df64(values.polynomial),
        polynomial_f32: values.polynomial_f32,
        polynomial_reference: polynomial.evaluate(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Df64SelfTest {
        let two_sum = TwoSumSample {
            a: 1.0,
            b: 1e-9,
            sum: 1.0,
            error: 1e-9,
        };
        let [a, b] = TWO_PRODUCT_OPERANDS[0];
        let product = a * b;
        let exact = f64::from(a) * f64::from(b) - f64::from(product);
        Df64SelfTest {
            adapter: "test adapter".into(),
            two_sum,
            unguarded_two_sum: two_sum,
            two_products: vec![TwoProductSample {
                a,
                b,
                product,
                error: exact as f32,
            }],
            dot_terms: DOT_TERMS,
            dot_df64: 1.0 + 1e-14,
            dot_f32: 1.5,
            dot_exact: 1.0,
            polynomial_df64: 0.5,
            polynomial_f32: 0.5,
            polynomial_reference: 0.5,
        }
    }

    #[test]
    fn passing_measurements_check_ok() {
        let result = passing();
        assert!(result.check().is_ok(), "{:?}", result.check());
        assert!(!result.unguarded_two_sum_defeated());
    }

    #[test]
    fn lost_two_sum_term_names_primitive_and_fixes() {
        let mut result = passing();
        result.two_sum.error = 0.0;
        let message = result.check().unwrap_err().to_string();
        assert!(message.contains("'test adapter'"), "{message}");
        assert!(message.contains("two-sum of 1e0 and 1e-9"), "{message}");
        assert!(
            message.contains("returned (1e0, 0e0) instead of (1e0, 1e-9)"),
            "{message}"
        );
        assert!(message.contains("shader compiler"), "{message}");
        assert!(message.contains("--precision offset"), "{message}");
        assert!(message.contains("--precision f32"), "{message}");
        assert!(message.contains("--backend cpu"), "{message}");
    }

    #[test]
    fn inexact_two_product_shows_exact_error() {
        let mut result = passing();
        let exact = result.two_products[0].exact_error();
        result.two_products[0].error = 0.0;
        let message = result.check().unwrap_err().to_string();
        assert!(message.contains("two-product of 1.2345679e0"), "{message}");
        assert!(message.contains(&format!("is {exact:e}")), "{message}");
        assert!(!message.contains("two-sum"), "{message}");
    }

    #[test]
    fn inaccurate_dot_product_shows_relative_errors() {
        let mut result = passing();
        result.dot_df64 = 1.0 + 3e-7;
        let message = result.check().unwrap_err().to_string();
        assert!(message.contains("relative error 3.00e-7"), "{message}");
        assert!(
            message.contains("plain f32 accumulation: 5.00e-1"),
            "{message}"
        );
    }

    #[test]
    fn nan_result_fails_check() {
        let mut result = passing();
        result.polynomial_df64 = f64::NAN;
        let message = result.check().unwrap_err().to_string();
        assert!(message.contains("polynomial"), "{message}");
    }

    #[test]
    fn exact_dot_recovers_cancelled_terms() {
        let operands = [[1.0e10f32, 1.0e10], [1.0, 1.0], [-1.0e10, 1.0e10]];
        assert_eq!(exact_dot(&operands), 1.0);
    }

    #[test]
    fn dot_operands_are_well_conditioned() {
        let operands = dot_operands(DOT_TERMS);
        let absolute: f64 = operands
            .iter()
            .map(|&[x, y]| (f64::from(x) * f64::from(y)).abs())
            .sum();
        let condition = absolute / exact_dot(&operands).abs();
        eprintln!("dot-product condition number {condition:.3}");
        assert!(condition < 10.0, "condition number {condition}");
        assert!(operands.iter().any(|&[x, y]| x * y < 0.0));
    }

    #[test]
    fn library_is_prepended() {
        let source = with_df64_wgsl("fn kernel() {}");
        assert!(source.starts_with(df64_wgsl()));
        assert!(source.ends_with("fn kernel() {}"));
        assert!(df64_wgsl().contains("fn df64_set_guard(zero: u32)"));
    }
}
