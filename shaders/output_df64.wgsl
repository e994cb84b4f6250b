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

// One invocation per (row, class) along x and per cell along y.
@compute @workgroup_size(64)
fn output_change_df64(@builtin(global_invocation_id) id: vec3<u32>) {
    df64_set_guard(params.zero);
    let row = id.x / CLASSES;
    let output = id.x % CLASSES;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let hidden = params.hidden;
    let activations = row * params.width + cell * hidden;
    let start = output * hidden;
    let delta = (cell * CLASSES + output) * hidden;
    var sum = df64_from_f32(0.0);
    for (var j = 0u; j < hidden; j++) {
        sum = df64_add(sum, df64_two_prod(w1_start[start + j], dz[activations + j]));
        sum = df64_add(sum, df64_two_prod(w1_delta[delta + j], z[activations + j]));
    }
    f[(cell * params.rows + row) * CLASSES + output] = df64_to_f32(df64_mul(sum, params.scale));
}
