// The scalar type `real` of the training kernels, here float64, and the functions whose
// float32 and float64 forms differ. The host prepends this file instead of real_f32.wgsl
// for the f64 mode, on adapters with 64-bit floats in shaders.
//
// SPIR-V defines exp and log for 16- and 32-bit floats only, so a driver's float64 exp may
// be a float32 one, or missing. exp, expm1 and log1p are written out here with series
// whose truncation error lies below the float64 unit roundoff, 1.1e-16.

alias real = f64;

// Bytes of one `real`, for kernels that need the width.
const REAL_BYTES: u32 = 8u;

// ln 2 split so that k * LN2_HIGH is exact for |k| < 2^20 (LN2_HIGH has 32 significant
// bits), and 1 / ln 2.
const LN2_HIGH: f64 = 0.6931471803691238;
const LN2_LOW: f64 = 1.9082149292705877e-10;
const INV_LN2: f64 = 1.4426950408889634;

// Returns exp(x) as 2^k exp(r) with k = round(x / ln 2) and r = x - k ln 2, |r| <= ln 2 / 2.
// r is formed in two steps (Cody and Waite), so it carries no error from k ln 2, and
// exp(r) is the Taylor series through r^14, whose first omitted term is below 1.4e-19 of
// the result. k is clamped to [-1100, 1100], beyond which the result is 0 or infinite,
// and 2^k is applied in two halves so that neither scaling overflows on its own.
fn exp_real(x: f64) -> f64 {
    let k = clamp(round(x * INV_LN2), -1100.0, 1100.0);
    let r = (x - k * LN2_HIGH) - k * LN2_LOW;
    var p: f64 = 1.0 / 87178291200.0;
    p = p * r + 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 1.0 / 2.0;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let half = i32(k) / 2;
    return ldexp(ldexp(p, half), i32(k) - half);
}

// Returns whether x is neither infinite nor NaN. WGSL cannot reinterpret an f64 as two
// u32 words, so this compares |x| with the largest finite f64, a comparison that is false
// for NaN. The engine's divergence tests check that the compiler keeps it.
fn is_finite(x: f64) -> bool {
    return abs(x) <= 1.7976931348623157e308;
}

// Returns exp(x) - 1 for |x| <= 1 from the Taylor series through x^19, evaluated by
// Horner's rule. The first omitted term is at most |x| / 20! = 4.1e-19 |x|, and
// |exp(x) - 1| >= 0.632 |x| on this range, so truncation adds under 6.6e-19 relative error.
fn expm1(x: f64) -> f64 {
    var p: f64 = 1.0 / 121645100408832000.0;
    p = p * x + 1.0 / 6402373705728000.0;
    p = p * x + 1.0 / 355687428096000.0;
    p = p * x + 1.0 / 20922789888000.0;
    p = p * x + 1.0 / 1307674368000.0;
    p = p * x + 1.0 / 87178291200.0;
    p = p * x + 1.0 / 6227020800.0;
    p = p * x + 1.0 / 479001600.0;
    p = p * x + 1.0 / 39916800.0;
    p = p * x + 1.0 / 3628800.0;
    p = p * x + 1.0 / 362880.0;
    p = p * x + 1.0 / 40320.0;
    p = p * x + 1.0 / 5040.0;
    p = p * x + 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x + 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x + 1.0 / 2.0;
    p = p * x + 1.0;
    return p * x;
}

// Returns ln(1 + y) for -0.64 <= y <= 1.72 as 2 atanh(s) with s = y / (2 + y). Here
// |s| <= 0.471, and the odd series of atanh through s^47 leaves a relative truncation
// error below s^48 / (49 (1 - s^2)) < 5.3e-18.
fn log1p(y: f64) -> f64 {
    let s = y / (2.0 + y);
    let t = s * s;
    var q: f64 = 1.0 / 47.0;
    q = q * t + 1.0 / 45.0;
    q = q * t + 1.0 / 43.0;
    q = q * t + 1.0 / 41.0;
    q = q * t + 1.0 / 39.0;
    q = q * t + 1.0 / 37.0;
    q = q * t + 1.0 / 35.0;
    q = q * t + 1.0 / 33.0;
    q = q * t + 1.0 / 31.0;
    q = q * t + 1.0 / 29.0;
    q = q * t + 1.0 / 27.0;
    q = q * t + 1.0 / 25.0;
    q = q * t + 1.0 / 23.0;
    q = q * t + 1.0 / 21.0;
    q = q * t + 1.0 / 19.0;
    q = q * t + 1.0 / 17.0;
    q = q * t + 1.0 / 15.0;
    q = q * t + 1.0 / 13.0;
    q = q * t + 1.0 / 11.0;
    q = q * t + 1.0 / 9.0;
    q = q * t + 1.0 / 7.0;
    q = q * t + 1.0 / 5.0;
    q = q * t + 1.0 / 3.0;
    q = q * t + 1.0;
    return 2.0 * s * q;
}
