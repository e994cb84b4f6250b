// Functions shared by activation.wgsl and loss.wgsl, which the host compiles with this
// file prepended. They compute in `real`, and call exp_real, expm1 and log1p from
// real_f32.wgsl or real_f64.wgsl, which the host prepends before this file.

const BETA = 5.0;
const BETA_LOSS = 20.0;

// Returns ln(1 + exp(x)) as max(x, 0) + ln(1 + exp(-|x|)), which never overflows.
// log(1 + e) would lose a relative u / e of ln(1 + e) to the rounding of 1 + e, so the
// series log1p forms it.
fn softplus(x: real) -> real {
    return max(x, 0.0) + log1p(exp_real(-abs(x)));
}

// Returns 1 / (1 + exp(-x)) from exp(-|x|), which never overflows.
fn logistic(x: real) -> real {
    let e = exp_real(-abs(x));
    if (x >= 0.0) {
        return 1.0 / (1.0 + e);
    }
    return e / (1.0 + e);
}

// Returns sigma(u0 + e) - sigma(u0) for sigma(u) = (a / beta) softplus(beta u), given
// s0 = logistic(beta u0) and z0 = sigma(u0). For |beta e| <= 1 it is
// (a / beta) ln(1 + s0 (exp(beta e) - 1)), whose log1p argument lies in
// [exp(-1) - 1, exp(1) - 1], so no two nearly equal values are subtracted. Otherwise the
// change is a fair fraction of sigma and is formed as a difference.
fn activation_change(a: real, u0: real, s0: real, z0: real, e: real) -> real {
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
fn soft_hinge_change(output: real, y: real) -> real {
    let x = -BETA_LOSS * output * y;
    if (abs(x) <= 1.0) {
        return log1p(logistic(BETA_LOSS) * expm1(x)) / BETA_LOSS;
    }
    return (softplus(BETA_LOSS * (1.0 - output * y)) - softplus(BETA_LOSS)) / BETA_LOSS;
}
