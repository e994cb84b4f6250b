// Float32 functions shared by activation.wgsl and loss.wgsl, which the host compiles with
// this file prepended. WGSL has no expm1 or log1p, so both are series here, accurate only
// over the argument ranges that the activation and loss changes use.

const BETA: f32 = 5.0;
const BETA_LOSS: f32 = 20.0;

// Returns ln(1 + exp(x)) as max(x, 0) + ln(1 + exp(-|x|)), which never overflows.
// log(1 + e) would lose a relative u / e of ln(1 + e) to the rounding of 1 + e, so the
// series log1p below forms it.
fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log1p(exp(-abs(x)));
}

// Returns 1 / (1 + exp(-x)) from exp(-|x|), which never overflows.
fn logistic(x: f32) -> f32 {
    let e = exp(-abs(x));
    if (x >= 0.0) {
        return 1.0 / (1.0 + e);
    }
    return e / (1.0 + e);
}

// Returns exp(x) - 1 for |x| <= 1 from the Taylor series through x^11, evaluated by
// Horner's rule. The first omitted term is at most |x| / 12! = 2.1e-9 |x|, and
// |exp(x) - 1| >= 0.632 |x| on this range, so truncation adds under 3.3e-9 relative error.
fn expm1(x: f32) -> f32 {
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
fn log1p(y: f32) -> f32 {
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

// Returns sigma(u0 + e) - sigma(u0) for sigma(u) = (a / beta) softplus(beta u), given
// s0 = logistic(beta u0) and z0 = sigma(u0). For |beta e| <= 1 it is
// (a / beta) ln(1 + s0 (exp(beta e) - 1)), whose log1p argument lies in
// [exp(-1) - 1, exp(1) - 1], so no two nearly equal values are subtracted. Otherwise the
// change is a fair fraction of sigma and is formed as a difference.
fn activation_change(a: f32, u0: f32, s0: f32, z0: f32, e: f32) -> f32 {
    let x = BETA * e;
    if (abs(x) <= 1.0) {
        return a / BETA * log1p(s0 * expm1(x));
    }
    return a / BETA * softplus(BETA * (u0 + e)) - z0;
}

// Returns l(F, y) - l(0, y) for the soft hinge l(F, y) = softplus(beta_l (1 - F y)) / beta_l.
// With s = logistic(beta_l), which rounds to 1 in float32, the change is
// ln(1 + s (exp(-beta_l F y) - 1)) / beta_l for |beta_l F| <= 1 and a plain difference of
// losses otherwise, as in the float64 engine.
fn soft_hinge_change(output: f32, y: f32) -> f32 {
    let x = -BETA_LOSS * output * y;
    if (abs(x) <= 1.0) {
        return log1p(logistic(BETA_LOSS) * expm1(x)) / BETA_LOSS;
    }
    return (softplus(BETA_LOSS * (1.0 - output * y)) - softplus(BETA_LOSS)) / BETA_LOSS;
}

// Tests the exponent bits, which the compiler cannot fold away the way it may fold x != x.
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}
