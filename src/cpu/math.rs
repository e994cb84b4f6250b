//! The scaled softplus and its derivative over whole slices, vectorized with AVX2 and FMA.
//!
//! Per element both need exp(-|x|) and ln(1 + exp(-|x|)) for x = beta u. The glibc calls
//! take about 9 ns each on a 2.45 GHz EPYC and do not vectorize. On x86_64 CPUs with AVX2
//! and FMA this module evaluates them with branch-free range reduction and polynomials,
//! which LLVM turns into 4-wide code. On that CPU the activation pass of
//! `benches/cpu_step.rs` (16M elements, 2 threads) went from about 0.25 s to 0.05 s. Other
//! CPUs use `Activation::value_and_derivative`, whose results may differ by a few ulp.
//!
//! Accuracy against glibc's `exp` and `log1p`, checked by the tests below over dense
//! sweeps: `exp_nonpositive` is within 1 ulp on [-745, 0], `ln_1p_unit` within 1 ulp on
//! [0, 1], and sigma and sigma' within 3 ulp of the libm forms for |u| up to 1e3. The libm
//! forms round several times themselves: against 120-bit mpmath values on a sweep of
//! [-20, 20] both forms were at most 2.1 ulp off, so neither is the more accurate.

use crate::model::Activation;
use crate::model::activation::BETA;

// The two polynomials below are evaluated by Estrin's scheme: adjacent coefficients are
// paired with x, the pairs with x^2, and so on. The dependency chain is about log2(K) FMAs
// long instead of K for Horner's rule, which lets the CPU overlap loop iterations. They are
// written out term by term because LLVM left a generic loop over the coefficients
// unvectorized in the release build.

/// Evaluates c[0] + c[1] x + ... + c[11] x^11.
#[inline(always)]
fn estrin_12(x: f64, c: &[f64; 12]) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let p01 = c[1].mul_add(x, c[0]);
    let p23 = c[3].mul_add(x, c[2]);
    let p45 = c[5].mul_add(x, c[4]);
    let p67 = c[7].mul_add(x, c[6]);
    let p89 = c[9].mul_add(x, c[8]);
    let p1011 = c[11].mul_add(x, c[10]);
    let p0to3 = p23.mul_add(x2, p01);
    let p4to7 = p67.mul_add(x2, p45);
    let p8to11 = p1011.mul_add(x2, p89);
    let p0to7 = p4to7.mul_add(x4, p0to3);
    p8to11.mul_add(x8, p0to7)
}

/// Evaluates c[0] + c[1] x + ... + c[15] x^15.
#[inline(always)]
fn estrin_16(x: f64, c: &[f64; 16]) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let p01 = c[1].mul_add(x, c[0]);
    let p23 = c[3].mul_add(x, c[2]);
    let p45 = c[5].mul_add(x, c[4]);
    let p67 = c[7].mul_add(x, c[6]);
    let p89 = c[9].mul_add(x, c[8]);
    let p1011 = c[11].mul_add(x, c[10]);
    let p1213 = c[13].mul_add(x, c[12]);
    let p1415 = c[15].mul_add(x, c[14]);
    let p0to3 = p23.mul_add(x2, p01);
    let p4to7 = p67.mul_add(x2, p45);
    let p8to11 = p1011.mul_add(x2, p89);
    let p12to15 = p1415.mul_add(x2, p1213);
    let p0to7 = p4to7.mul_add(x4, p0to3);
    let p8to15 = p12to15.mul_add(x4, p8to11);
    p8to15.mul_add(x8, p0to7)
}

/// exp(y) for y <= 0 or NaN: 0 below about -745.13, NaN for NaN. Positive y is outside
/// the domain because the scale below does not reach 2^n for n > 0.
#[inline(always)]
fn exp_nonpositive(y: f64) -> f64 {
    // 1.5 * 2^52: adding it rounds y / ln 2 to the nearest integer n, whose bits then sit
    // at the bottom of the sum's mantissa.
    const ROUND: f64 = 6755399441055744.0;
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^21 (fdlibm's constants).
    const LN2_HI: f64 = 0.6931471803691238;
    const LN2_LO: f64 = 1.9082149292705877e-10;
    // 1 / k! for k = 2..=13, correctly rounded. The Taylor remainder of degree 13 on
    // |r| <= ln 2 / 2 is below 5e-18.
    const C: [f64; 12] = [
        0.5,
        0.16666666666666666,
        0.041666666666666664,
        0.008333333333333333,
        0.001388888888888889,
        0.0001984126984126984,
        2.48015873015873e-05,
        2.7557319223985893e-06,
        2.755731922398589e-07,
        2.505210838544172e-08,
        2.08767569878681e-09,
        1.6059043836821613e-10,
    ];
    // 2^-54, which undoes the offset of 54 in the exponent below.
    const TWO_POW_M54: f64 = 5.551115123125783e-17;

    // Below -746 the result rounds to 0 whatever y is, and the clamp keeps n >= -1077 so
    // that the scale stays normal. A comparison, unlike f64::max, passes NaN on.
    let y = if y < -746.0 { -746.0 } else { y };
    let shifted = y.mul_add(LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, y));

    // e^r = 1 + r + r^2 q(r), summed so that the leading 1 is added last.
    let q = estrin_12(r, &C);
    let p = 1.0 + r.mul_add(r * q, r);

    // 2^(n + 54) is a normal number for n >= -1077, so p * 2^(n + 54) is exact and the
    // product by 2^-54 rounds once, also when the result is subnormal.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(n_bits.wrapping_add(1023 + 54) << 52);
    p * scale * TWO_POW_M54
}

/// ln(1 + e) for e in [0, 1] or NaN.
///
/// With s = e / (2 + e), ln(1 + e) = 2 atanh(s) = e - s (e - R) where
/// R = 2 (s^2/3 + s^4/5 + ...). The exact e is the leading term, so the rounding of s only
/// enters through the smaller correction s (e - R). For s <= 1/3 the 16 terms of R leave
/// a truncation error below 1e-17 relative.
#[inline(always)]
fn ln_1p_unit(e: f64) -> f64 {
    // 2 / (2k + 1) for k = 1..=16, correctly rounded.
    const C: [f64; 16] = [
        0.6666666666666666,
        0.4,
        0.2857142857142857,
        0.2222222222222222,
        0.18181818181818182,
        0.15384615384615385,
        0.13333333333333333,
        0.11764705882352941,
        0.10526315789473684,
        0.09523809523809523,
        0.08695652173913043,
        0.08,
        0.07407407407407407,
        0.06896551724137931,
        0.06451612903225806,
        0.06060606060606061,
    ];
    let s = e / (2.0 + e);
    let z = s * s;
    let r = z * estrin_16(z, &C);
    (-s).mul_add(e - r, e)
}

/// Writes sigma(u) into `value` and replaces u by sigma'(u) for every u in `zhat`.
///
/// The guards of the libm forms in `model::activation` hold: sigma(u) = a u for large u,
/// sigma is exp(beta u) a / beta or 0 for very negative u, and NaN comes only from NaN.
pub(super) fn activation_in_place(activation: Activation, zhat: &mut [f64], value: &mut [f64]) {
    assert_eq!(zhat.len(), value.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        unsafe { avx2::activation_in_place(activation, zhat, value) };
        return;
    }
    for (u, v) in zhat.iter_mut().zip(value.iter_mut()) {
        (*v, *u) = activation.value_and_derivative(*u);
    }
}

/// Writes sigma(u) into `value` for every u in `input`, bit-identical to the values of
/// `activation_in_place`.
pub(super) fn activation_values(activation: Activation, input: &[f64], value: &mut [f64]) {
    assert_eq!(input.len(), value.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        unsafe { avx2::activation_values(activation, input, value) };
        return;
    }
    for (&u, v) in input.iter().zip(value.iter_mut()) {
        *v = activation.value(u);
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Activation, BETA, exp_nonpositive, ln_1p_unit};

    /// Elements per block. The exponentials of a block are computed in one loop and the
    /// logarithms and quotients in a second, which keeps each loop body short enough for
    /// the CPU to overlap several iterations' dependency chains. 256 values take 2 KiB of
    /// stack, well inside L1.
    const BLOCK: usize = 256;

    // The loops below work on one element at a time, which LLVM's loop vectorizer turns
    // into 4-wide code. They use no closures, because rustc 1.95 compiled a closure defined
    // in these functions without AVX2 and FMA.

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn activation_in_place(activation: Activation, zhat: &mut [f64], value: &mut [f64]) {
        let scale = activation.a / BETA;
        let mut e = [0.0; BLOCK];
        for (zhat, value) in zhat.chunks_mut(BLOCK).zip(value.chunks_mut(BLOCK)) {
            let e = &mut e[..zhat.len()];
            for (&u, e) in zhat.iter().zip(e.iter_mut()) {
                *e = exp_nonpositive(-(BETA * u).abs());
            }
            for ((u, &e), v) in zhat.iter_mut().zip(e.iter()).zip(value) {
                // softplus(x) = max(x, 0) + ln(1 + e) and logistic(x) = 1 / (1 + e) for
                // x >= 0, e / (1 + e) otherwise, with e = exp(-|x|).
                let x = BETA * *u;
                *v = scale * (x.max(0.0) + ln_1p_unit(e));
                let numerator = if x >= 0.0 { 1.0 } else { e };
                *u = activation.a * (numerator / (1.0 + e));
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn activation_values(activation: Activation, input: &[f64], value: &mut [f64]) {
        let scale = activation.a / BETA;
        let mut e = [0.0; BLOCK];
        for (input, value) in input.chunks(BLOCK).zip(value.chunks_mut(BLOCK)) {
            let e = &mut e[..input.len()];
            for (&u, e) in input.iter().zip(e.iter_mut()) {
                *e = exp_nonpositive(-(BETA * u).abs());
            }
            for ((&u, &e), v) in input.iter().zip(e.iter()).zip(value) {
                *v = scale * ((BETA * u).max(0.0) + ln_1p_unit(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActivationNorm;

    /// Returns the distance in units in the last place, counting +0 and -0 as equal and
    /// two NaNs as 0 apart.
    fn ulp_distance(a: f64, b: f64) -> u64 {
        if a.is_nan() && b.is_nan() {
            return 0;
        }
        if a.is_nan() || b.is_nan() {
            return u64::MAX;
        }
        // Maps the floats onto the integers in order, with both zeros at 0.
        let ordered = |x: f64| {
            let bits = x.to_bits() as i64;
            if bits < 0 { i64::MIN - bits } else { bits }
        };
        ordered(a).abs_diff(ordered(b))
    }

    /// Returns `count` points spread evenly over [lo, hi], both ends included.
    fn sweep(lo: f64, hi: f64, count: usize) -> impl Iterator<Item = f64> {
        (0..count).map(move |i| lo + (hi - lo) * i as f64 / (count - 1) as f64)
    }

    #[test]
    fn exp_within_one_ulp() {
        let mut worst = 0;
        let points = sweep(-745.0, 0.0, 2_000_001)
            .chain(sweep(-1.0, 0.0, 1_000_001))
            .chain((0..1075).map(|k| -(k as f64) * std::f64::consts::LN_2));
        for y in points {
            let d = ulp_distance(exp_nonpositive(y), y.exp());
            assert!(d <= 1, "exp({y:e}): {} vs {}", exp_nonpositive(y), y.exp());
            worst = worst.max(d);
        }
        assert!(worst <= 1);
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-745.2), 0.0);
        assert_eq!(exp_nonpositive(-1e300), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
        // The smallest subnormal, 2^-1074, is exp(-744.44...).
        assert_eq!(exp_nonpositive(-744.4), (-744.4f64).exp());
        assert!(exp_nonpositive(-744.4) > 0.0);
    }

    #[test]
    fn ln_1p_within_one_ulp() {
        let tiny = (0..2000).map(|k| 2f64.powf(-(k as f64) / 2.0));
        let subnormal = [5e-324, 1e-310, f64::MIN_POSITIVE];
        for e in sweep(0.0, 1.0, 4_000_001).chain(tiny).chain(subnormal) {
            let d = ulp_distance(ln_1p_unit(e), e.ln_1p());
            assert!(d <= 1, "ln_1p({e:e}): {} vs {}", ln_1p_unit(e), e.ln_1p());
        }
        assert_eq!(ln_1p_unit(0.0), 0.0);
        assert!(ln_1p_unit(f64::NAN).is_nan());
    }

    #[test]
    fn activation_within_three_ulp_of_libm() {
        let activation = Activation::normalized(ActivationNorm::SecondMoment);
        let input: Vec<f64> = sweep(-1e3, 1e3, 2_000_001)
            .chain(sweep(-10.0, 10.0, 2_000_001))
            .chain([
                0.0,
                -0.0,
                1e-300,
                -1e-300,
                1e300,
                -1e300,
                f64::MAX,
                f64::MIN,
            ])
            .collect();
        let mut value = vec![0.0; input.len()];
        let mut derivative = input.clone();
        activation_in_place(activation, &mut derivative, &mut value);
        let mut values_only = vec![0.0; input.len()];
        activation_values(activation, &input, &mut values_only);

        for (i, &u) in input.iter().enumerate() {
            let (v, d) = activation.value_and_derivative(u);
            assert!(
                ulp_distance(value[i], v) <= 3,
                "sigma({u:e}): {} vs {v}",
                value[i]
            );
            assert!(
                ulp_distance(derivative[i], d) <= 3,
                "sigma'({u:e}): {} vs {d}",
                derivative[i]
            );
            assert_eq!(
                values_only[i].to_bits(),
                value[i].to_bits(),
                "sigma({u:e}) alone"
            );
        }
    }

    #[test]
    fn activation_limits() {
        let activation = Activation { a: 1.0 };
        let input = [
            1e3,
            -1e3,
            -140.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut value = [0.0; 6];
        let mut derivative = input;
        activation_in_place(activation, &mut derivative, &mut value);

        // softplus(5000) / 5 = 1000 exactly, and the derivative saturates at a.
        assert_eq!(value[0], 1e3);
        assert_eq!(derivative[0], 1.0);
        // exp(-5000) underflows, so both are exactly 0 and never negative.
        assert_eq!(value[1].to_bits(), 0);
        assert_eq!(derivative[1].to_bits(), 0);
        // softplus(-700) = exp(-700) is about 1e-304 and stays positive.
        assert!(value[2] > 0.0);
        assert_eq!(value[3], f64::INFINITY);
        assert_eq!(derivative[3], 1.0);
        assert_eq!(value[4], 0.0);
        assert_eq!(derivative[4], 0.0);
        assert!(value[5].is_nan());
        assert!(derivative[5].is_nan());
    }
}
