//! The df64 (double-float) WGSL library, run by its self-test kernel on the adapter and
//! compared with float64 arithmetic on the host.
//!
//! Every test that needs a GPU prints a message and returns early when no GPU adapter
//! exists, so the suite passes on machines without a Vulkan driver.

mod common;

use std::sync::OnceLock;

use common::open_gpu_device;

use lazysweep::gpu::{
    DF64_MAX_RELATIVE_ERROR, Df64SelfTest, GpuError, TwoProductSample, TwoSumSample,
    df64_self_test, require_df64,
};

/// Runs the self-test once for all tests of this file, or returns None without an
/// adapter.
fn measured() -> Option<&'static Df64SelfTest> {
    static RESULT: OnceLock<Option<Df64SelfTest>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let gpu = open_gpu_device()?;
            Some(df64_self_test(&gpu).expect("the df64 self-test kernel runs"))
        })
        .as_ref()
}

#[test]
fn two_sum_keeps_small_term() {
    let Some(result) = measured() else { return };
    let sum = result.two_sum;
    assert_eq!((sum.a, sum.b), (1.0, 1e-9));
    assert_eq!(sum.sum, 1.0, "two-sum of 1 and 1e-9 must round to 1");
    assert_eq!(
        sum.error.to_bits(),
        1e-9f32.to_bits(),
        "two-sum error term is {:e}, expected 1e-9 exactly",
        sum.error
    );
}

#[test]
fn two_product_error_is_exact() {
    let Some(result) = measured() else { return };
    assert!(!result.two_products.is_empty());
    for sample in &result.two_products {
        let exact = sample.exact_error();
        assert_ne!(
            exact, 0.0,
            "{:e} * {:e} fits in 24 bits, so it cannot test the error term",
            sample.a, sample.b
        );
        assert_eq!(
            sample.product,
            sample.a * sample.b,
            "two-product of {:e} and {:e} did not round the product to nearest",
            sample.a,
            sample.b
        );
        assert_eq!(
            f64::from(sample.error),
            exact,
            "two-product of {:e} and {:e} returned error term {:e}, exact error {:e}",
            sample.a,
            sample.b,
            sample.error,
            exact
        );
    }
}

#[test]
fn df64_dot_product_beats_f32() {
    let Some(result) = measured() else { return };
    assert!(result.dot_terms >= 4096);
    let df64_error = result.dot_df64_relative_error();
    let f32_error = result.dot_f32_relative_error();
    eprintln!(
        "{}-term dot product: df64 relative error {df64_error:.3e}, f32 {f32_error:.3e}",
        result.dot_terms
    );
    assert!(
        df64_error < 1e-12,
        "df64 dot product {} vs exact {}: relative error {df64_error:.3e} (f32: {f32_error:.3e})",
        result.dot_df64,
        result.dot_exact
    );
    assert!(
        f32_error > 1e-8,
        "plain f32 dot product {} vs exact {}: relative error {f32_error:.3e} is too small to \
         show the difference",
        result.dot_f32,
        result.dot_exact
    );
}

#[test]
fn df64_polynomial_matches_f64() {
    let Some(result) = measured() else { return };
    let error = result.polynomial_relative_error();
    eprintln!("polynomial: df64 relative error {error:.3e}");
    assert!(
        error < DF64_MAX_RELATIVE_ERROR,
        "df64 polynomial {} vs f64 {}: relative error {error:.3e}",
        result.polynomial_df64,
        result.polynomial_reference
    );
    assert_eq!(
        result.polynomial_f32, result.polynomial_reference as f32,
        "df64_to_f32 of {} did not round to the nearest f32",
        result.polynomial_df64
    );
}

#[test]
fn require_df64_accepts_adapter() {
    let Some(gpu) = open_gpu_device() else { return };
    if let Err(err) = require_df64(&gpu) {
        panic!("{err}");
    }
}

/// Mesa 22.3.6 lavapipe ("llvmpipe (LLVM 15.0.6, 256 bits)") simplifies (a + b) - a to
/// b in the unguarded two-sum, so its error term comes out 0 instead of 1e-9. Other
/// adapters only report what they do.
#[test]
fn unguarded_two_sum_defeated_on_llvmpipe() {
    let Some(result) = measured() else { return };
    let unguarded = result.unguarded_two_sum;
    eprintln!(
        "unguarded two-sum on '{}': ({:e}, {:e}), {}",
        result.adapter,
        unguarded.sum,
        unguarded.error,
        if result.unguarded_two_sum_defeated() {
            "defeated by the compiler"
        } else {
            "exact"
        }
    );
    if result.adapter.contains("llvmpipe") {
        assert!(
            result.unguarded_two_sum_defeated(),
            "the unguarded two-sum kept its error term {:e} on '{}'",
            unguarded.error,
            result.adapter
        );
    }
}

#[test]
fn df64_error_names_failed_primitive() {
    let two_sum = TwoSumSample {
        a: 1.0,
        b: 1e-9,
        sum: 1.0,
        error: 0.0,
    };
    let result = Df64SelfTest {
        adapter: "example adapter".into(),
        two_sum,
        unguarded_two_sum: two_sum,
        two_products: vec![TwoProductSample {
            a: 3.0,
            b: 5.0,
            product: 15.0,
            error: 0.0,
        }],
        dot_terms: 4096,
        dot_df64: 2.0,
        dot_f32: 2.0,
        dot_exact: 2.0,
        polynomial_df64: 0.25,
        polynomial_f32: 0.25,
        polynomial_reference: 0.25,
    };

    let err = result.check().unwrap_err();
    assert!(matches!(err, GpuError::Df64Unsupported { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("adapter 'example adapter'"), "{message}");
    assert!(
        message.contains("two-sum of 1e0 and 1e-9 returned (1e0, 0e0) instead of (1e0, 1e-9)"),
        "{message}"
    );
    assert!(!message.contains("two-product"), "{message}");
    assert!(message.contains("shader compiler"), "{message}");
    assert!(message.contains("--precision offset"), "{message}");
    assert!(message.contains("--precision f32"), "{message}");
    assert!(message.contains("--backend cpu"), "{message}");
}
