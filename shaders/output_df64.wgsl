// The output change f - f0 of every cell in the df64 mode, with each sum over the hidden
// units carried in df64:
//   f_c - f0 = (sum_j W1_0(k, j) dz_c(r, j) + sum_j delta W1_c(k, j) z_c(r, j)) / sqrt(h)
// for row r, class k and cell c, where dz = sigma(zhat) - sigma(zhat_0). Each product is
// formed exactly with Dekker's two-product and added in df64, so the only rounding left
// is that of the f32 inputs and of the final result. df64.wgsl is prepended to this file.

struct Params {
    rows: u32,
    cells: u32,
    hidden: u32,
    // Values per row of dz and z: cells x hidden.
    width: u32,
    // 1 / sqrt(h) as a df64 pair.
    scale: vec2<f32>,
    // Always 0, read at run time by the df64 guard.
    zero: u32,
    _pad: u32,
}

const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> params: Params;
// dz and z: [row][cell * hidden + j].
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
// W1_0: [class][j], shared by every cell; delta W1: [cell][class][j].
@group(0) @binding(3) var<storage, read> w1_start: array<f32>;
@group(0) @binding(4) var<storage, read> w1_delta: array<f32>;
// f - f0: [cell][row][class].
@group(0) @binding(5) var<storage, read_write> f: array<f32>;

// Adds w_start dz + w_delta z to the df64 sum, each product formed exactly.
fn add_terms(sum: vec2<f32>, w_start: f32, dz_j: f32, w_delta: f32, z_j: f32) -> vec2<f32> {
    let with_start = df64_add(sum, df64_two_prod(w_start, dz_j));
    return df64_add(with_start, df64_two_prod(w_delta, z_j));
}

// One invocation per row along x and per cell along y computes all 10 outputs, so that it
// reads dz and z once for the 10 sums. The sums are separate variables because a private
// array indexed in a loop would be kept in memory.
@compute @workgroup_size(64)
fn output_change_df64(@builtin(global_invocation_id) id: vec3<u32>) {
    df64_set_guard(params.zero);
    let row = id.x;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let h = params.hidden;
    let activations = row * params.width + cell * h;
    let delta = cell * CLASSES * h;
    var s0 = df64_from_f32(0.0);
    var s1 = s0;
    var s2 = s0;
    var s3 = s0;
    var s4 = s0;
    var s5 = s0;
    var s6 = s0;
    var s7 = s0;
    var s8 = s0;
    var s9 = s0;
    for (var j = 0u; j < h; j++) {
        let dz_j = dz[activations + j];
        let z_j = z[activations + j];
        s0 = add_terms(s0, w1_start[j], dz_j, w1_delta[delta + j], z_j);
        s1 = add_terms(s1, w1_start[h + j], dz_j, w1_delta[delta + h + j], z_j);
        s2 = add_terms(s2, w1_start[2u * h + j], dz_j, w1_delta[delta + 2u * h + j], z_j);
        s3 = add_terms(s3, w1_start[3u * h + j], dz_j, w1_delta[delta + 3u * h + j], z_j);
        s4 = add_terms(s4, w1_start[4u * h + j], dz_j, w1_delta[delta + 4u * h + j], z_j);
        s5 = add_terms(s5, w1_start[5u * h + j], dz_j, w1_delta[delta + 5u * h + j], z_j);
        s6 = add_terms(s6, w1_start[6u * h + j], dz_j, w1_delta[delta + 6u * h + j], z_j);
        s7 = add_terms(s7, w1_start[7u * h + j], dz_j, w1_delta[delta + 7u * h + j], z_j);
        s8 = add_terms(s8, w1_start[8u * h + j], dz_j, w1_delta[delta + 8u * h + j], z_j);
        s9 = add_terms(s9, w1_start[9u * h + j], dz_j, w1_delta[delta + 9u * h + j], z_j);
    }
    let out = (cell * params.rows + row) * CLASSES;
    let scale = params.scale;
    f[out] = df64_to_f32(df64_mul(s0, scale));
    f[out + 1u] = df64_to_f32(df64_mul(s1, scale));
    f[out + 2u] = df64_to_f32(df64_mul(s2, scale));
    f[out + 3u] = df64_to_f32(df64_mul(s3, scale));
    f[out + 4u] = df64_to_f32(df64_mul(s4, scale));
    f[out + 5u] = df64_to_f32(df64_mul(s5, scale));
    f[out + 6u] = df64_to_f32(df64_mul(s6, scale));
    f[out + 7u] = df64_to_f32(df64_mul(s7, scale));
    f[out + 8u] = df64_to_f32(df64_mul(s8, scale));
    f[out + 9u] = df64_to_f32(df64_mul(s9, scale));
}
