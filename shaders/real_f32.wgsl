// The scalar type `real` of the training kernels, here float32, and the functions whose
// float32 and float64 forms differ. The host prepends this file, or real_f64.wgsl for the
// f64 mode, to every training kernel.
//
// WGSL has no expm1 or log1p, so both are series here, accurate only over the argument
// ranges that the activation and loss changes use.

alias real = f32;

// Bytes of one `real`, for kernels that need the width.
const REAL_BYTES: u32 = 4u;

fn exp_real(x: real) -> real {
    return exp(x);
}

// Tests the exponent bits, which the compiler cannot fold away the way it may fold x != x.
fn is_finite(x: real) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Returns exp(x) - 1 for |x| <= 1 from the Taylor series through x^11, evaluated by
// Horner's rule. The first omitted term is at most |x| / 12! = 2.1e-9 |x|, and
// |exp(x) - 1| >= 0.632 |x| on this range, so truncation adds under 3.3e-9 relative error.
fn expm1(x: real) -> real {
    var p = 1.0 / 39916800.0;
    p = p * x + 1.0 / 3628800.0;
    p = p * x + 1.0 / 362880.0;
    p = p * x + 1.0 / 40320.0;
    p = p * x + 1.0 / 5040.0;
    p = p * x + 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x + 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x + 0.5;
    p = p * x + 1.0;
    return p * x;
}

// Returns ln(1 + y) for -0.64 <= y <= 1.72 as 2 atanh(s) with s = y / (2 + y), which
// holds because (1 + s) / (1 - s) = 1 + y. Here |s| <= 0.471, and the odd series of atanh
// through s^21 leaves a relative truncation error below s^22 / (23 (1 - s^2)) < 4e-9.
fn log1p(y: real) -> real {
    let s = y / (2.0 + y);
    let t = s * s;
    var q = 1.0 / 21.0;
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
