// Self-test of the df64 library on the adapter's shader compiler. The host appends this
// file to df64.wgsl and runs each entry point as one invocation, then checks the results
// against float64 arithmetic.
//
// `self_test` runs the library: two-sum, two-product, a long dot product accumulated in
// df64 next to the same sum in plain f32, and a polynomial in df64. `unguarded_two_sum`
// runs Knuth's two-sum without guards, to show whether this compiler defeats it.

const PRODUCTS: u32 = 4u;
const COEFFICIENTS: u32 = 16u;

struct SelfTestInput {
    // Always 0, read at run time for `df64_set_guard`.
    zero: u32,
    dot_terms: u32,
    sum_operands: vec2<f32>,
    product_operands: array<vec2<f32>, PRODUCTS>,
    // A df64 value x and an f32 scale s for s p(x), p(x) = sum_k c_k x^k.
    polynomial_x: vec2<f32>,
    polynomial_scale: f32,
    _pad0: u32,
    polynomial_coefficients: array<f32, COEFFICIENTS>,
    // Pairs (x_i, y_i) of the dot product sum_i x_i y_i.
    dot_operands: array<vec2<f32>>,
}

struct SelfTestOutput {
    two_sum: vec2<f32>,
    unguarded_two_sum: vec2<f32>,
    two_products: array<vec2<f32>, PRODUCTS>,
    dot_df64: vec2<f32>,
    dot_f32: f32,
    _pad0: f32,
    polynomial: vec2<f32>,
    polynomial_f32: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<storage, read> input: SelfTestInput;
@group(0) @binding(1) var<storage, read_write> output: SelfTestOutput;

@compute @workgroup_size(1)
fn self_test() {
    df64_set_guard(input.zero);

    output.two_sum = df64_two_sum(input.sum_operands.x, input.sum_operands.y);

    for (var i = 0u; i < PRODUCTS; i++) {
        let operands = input.product_operands[i];
        output.two_products[i] = df64_two_prod(operands.x, operands.y);
    }

    var sum = df64_from_f32(0.0);
    var plain_sum = 0.0;
    for (var i = 0u; i < input.dot_terms; i++) {
        let term = input.dot_operands[i];
        sum = df64_add(sum, df64_two_prod(term.x, term.y));
        plain_sum += term.x * term.y;
    }
    output.dot_df64 = sum;
    output.dot_f32 = plain_sum;

    // Horner's rule, from the highest coefficient down.
    let x = input.polynomial_x;
    var value = df64_from_f32(input.polynomial_coefficients[COEFFICIENTS - 1u]);
    for (var k = i32(COEFFICIENTS) - 2; k >= 0; k--) {
        value = df64_add_f32(df64_mul(value, x), input.polynomial_coefficients[k]);
    }
    value = df64_mul_f32(value, input.polynomial_scale);
    output.polynomial = value;
    output.polynomial_f32 = df64_to_f32(value);
}

@compute @workgroup_size(1)
fn unguarded_two_sum() {
    let a = input.sum_operands.x;
    let b = input.sum_operands.y;
    let s = a + b;
    let b_part = s - a;
    let a_part = s - b_part;
    output.unguarded_two_sum = vec2<f32>(s, (a - a_part) + (b - b_part));
}
