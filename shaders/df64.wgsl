// Double-float ("df64") arithmetic: a value is the unevaluated sum hi + lo of two f32,
// stored as vec2<f32>(hi, lo) with |lo| <= ulp(hi) / 2, which carries about 48
// significant bits.
//
// This file is a function library with no entry points and no bindings. The host
// prepends it to the source of a kernel that uses it, because WGSL has no include.
//
// Contract for the including kernel:
//   1. Declare a binding that contains a u32 equal to zero, written by the host at run
//      time, for example `@group(0) @binding(0) var<storage, read> input: Input;` with a
//      `zero: u32` field.
//   2. Call `df64_set_guard(input.zero)` at the start of every entry point, before any
//      other df64 function.
// A kernel that skips the call still computes, but the shader compiler may then remove
// the error terms and every result falls back to f32 precision.
//
// Why the guard exists: shader compilers may apply real-number algebra to float code.
// Mesa 22.3.6 lavapipe (Vulkan, with wgpu 30) rewrites (a + b) - a into b, which deletes
// the error term of Knuth's two-sum, and its WGSL `fma` is not fused, so an fma-based
// two-product returns zero error. `df64_guard(x)` returns x unchanged, but through a
// bitcast and an XOR with the run-time zero, so the compiler cannot prove any relation
// between its input and its output. It is an integer operation because no float
// simplification rule applies to it. Every intermediate whose simplification would
// destroy an error term goes through it, and so do the outputs of each error-free
// transformation, so that no rewrite can reach across two of them. With `df64_guard`
// returning x directly, the self-test on lavapipe measures a two-sum error term of 0
// and a df64 dot product no more accurate than plain f32.
//
// Valid range: operands and results must be finite. Error terms that fall below the
// smallest normal f32 (2^-126) may be flushed to zero on adapters that flush
// subnormals, so results smaller than about 2^-100 keep only part of the extra
// precision. Inf and NaN inputs give NaN error terms.

var<private> df64_guard_zero: u32;

// Stores the run-time zero that `df64_guard` XORs into its argument. Every entry point
// that uses this library calls it first with a zero read from a buffer.
fn df64_set_guard(zero: u32) {
    df64_guard_zero = zero;
}

// Returns x bit for bit, through an identity the compiler cannot see through.
fn df64_guard(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ df64_guard_zero);
}

// Knuth's two-sum: returns (s, e) with s = fl(a + b) and s + e = a + b exactly, for any
// finite a and b whose sum does not overflow.
fn df64_two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = df64_guard(a + b);
    let b_part = df64_guard(s - a);
    let a_part = df64_guard(s - b_part);
    let e = df64_guard(a - a_part) + (b - b_part);
    return vec2<f32>(s, df64_guard(e));
}

// Dekker's fast two-sum: returns (s, e) with s = fl(a + b) and s + e = a + b exactly.
// Requires |a| >= |b| or a = 0, which it does not check.
fn df64_quick_two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = df64_guard(a + b);
    let e = b - df64_guard(s - a);
    return vec2<f32>(s, df64_guard(e));
}

// Limit above which `df64_split` scales its argument down first, because 4097 a
// overflows for |a| above about 2^116.
const DF64_SPLIT_LIMIT: f32 = 0x1p100f;
const DF64_SPLIT_DOWN: f32 = 0x1p-28f;
const DF64_SPLIT_UP: f32 = 0x1p28f;

// Veltkamp's split with factor 4097 = 2^12 + 1: returns (hi, lo) with hi + lo = a
// exactly, hi holding the leading 12 bits of a's significand and lo at most 12 more
// (11 bits and a sign), so that the product of any two halves is exact in f32.
// Above 2^100 the split runs on a 2^-28 and both halves are scaled back by 2^28, which
// is exact, so 4097 a never overflows. Valid for |a| < 2^128 - 2^115, all but the top
// 1/8192 of the finite range: closer to the largest f32, hi rounds up to 2^128 = inf.
fn df64_split(a: f32) -> vec2<f32> {
    let large = abs(a) > DF64_SPLIT_LIMIT;
    let x = a * select(1.0, DF64_SPLIT_DOWN, large);
    let t = df64_guard(4097.0 * x);
    let hi = df64_guard(t - df64_guard(t - x));
    let lo = df64_guard(x - hi);
    return vec2<f32>(hi, lo) * select(1.0, DF64_SPLIT_UP, large);
}

// Dekker's two-product without fma: returns (p, e) with p = fl(a b) and p + e = a b
// exactly. Exact when a b = 0 or 2^-78 <= |a b| <= 2^127, and both operands are in the
// range of `df64_split`. Below 2^-78 the partial product lo(a) lo(b), which can be as
// small as |a b| 2^-48, may fall below 2^-126 and be flushed to zero.
fn df64_two_prod(a: f32, b: f32) -> vec2<f32> {
    let p = df64_guard(a * b);
    let a_parts = df64_split(a);
    let b_parts = df64_split(b);
    // Each partial product is exact. The order of the sums keeps every partial sum
    // exact except the last, and the guards stop the compiler from reordering them.
    var e = df64_guard(a_parts.x * b_parts.x - p);
    e = df64_guard(e + a_parts.x * b_parts.y);
    e = df64_guard(e + a_parts.y * b_parts.x);
    e = e + a_parts.y * b_parts.y;
    return vec2<f32>(p, df64_guard(e));
}

// Returns a as a df64 value.
fn df64_from_f32(a: f32) -> vec2<f32> {
    return vec2<f32>(a, 0.0);
}

// Returns the f32 nearest to hi + lo, because a single f32 addition rounds the exact
// sum correctly.
fn df64_to_f32(a: vec2<f32>) -> f32 {
    return a.x + a.y;
}

fn df64_neg(a: vec2<f32>) -> vec2<f32> {
    return -a;
}

// Returns a + b with a relative error of order 2^-47 (an estimate) even when a and b
// cancel, because both the high and the low parts are added with two-sum before
// renormalizing.
fn df64_add(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let high = df64_two_sum(a.x, b.x);
    let low = df64_two_sum(a.y, b.y);
    let first = df64_quick_two_sum(high.x, high.y + low.x);
    return df64_quick_two_sum(first.x, first.y + low.y);
}

fn df64_sub(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return df64_add(a, -b);
}

// Returns a + b for a df64 a and an f32 b.
fn df64_add_f32(a: vec2<f32>, b: f32) -> vec2<f32> {
    let sum = df64_two_sum(a.x, b);
    return df64_quick_two_sum(sum.x, sum.y + a.y);
}

// Returns a b. The product lo(a) lo(b) is below the precision of the result and is
// left out.
fn df64_mul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let product = df64_two_prod(a.x, b.x);
    let cross = a.x * b.y + a.y * b.x;
    return df64_quick_two_sum(product.x, product.y + cross);
}

// Returns a b for a df64 a and an f32 b.
fn df64_mul_f32(a: vec2<f32>, b: f32) -> vec2<f32> {
    let product = df64_two_prod(a.x, b);
    return df64_quick_two_sum(product.x, product.y + a.y * b);
}
