// Metrics at the end of training: sign consistency of the hidden pre-activations, test
// accuracy counts, and squared parameter distances from theta_0.
//
// Counts are integers added with atomics, so their totals do not depend on scheduling.
// Distances are partial sums in `real` over fixed ranges that the host adds in float64.
// real_f32.wgsl or real_f64.wgsl is prepended to this file.

struct Params {
    // Samples in this chunk, and the index of its first sample in the set.
    rows: u32,
    row_offset: u32,
    cells: u32,
    hidden: u32,
    // 32-bit words of stored signs per sample: ceil(hidden / 32).
    words: u32,
    // Elements per cell in `squared_distance`, and partial sums per cell.
    block: u32,
    parts: u32,
    _pad0: u32,
}

const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> params: Params;
// zhat: [row][cell][hidden] for the rows of this chunk.
@group(0) @binding(1) var<storage, read> zhat: array<real>;
// positive0: [sample][word], bit j of word w set when zhat_0 of unit 32 w + j is > 0.
@group(0) @binding(2) var<storage, read_write> positive0_out: array<u32>;
@group(0) @binding(3) var<storage, read> positive0: array<u32>;
@group(0) @binding(4) var<storage, read_write> same_sign: array<atomic<u32>>;
// f: [cell][row][class] for this chunk; f0: [sample][class] over the whole set.
@group(0) @binding(5) var<storage, read> f: array<real>;
@group(0) @binding(6) var<storage, read> f0: array<real>;
@group(0) @binding(7) var<storage, read> labels: array<u32>;
@group(0) @binding(8) var<storage, read_write> correct: array<atomic<u32>>;
@group(0) @binding(9) var<storage, read> w: array<real>;
@group(0) @binding(10) var<storage, read> w0: array<real>;
@group(0) @binding(11) var<storage, read_write> partial: array<real>;
// zhat_0: [sample][hidden] for the rows of this chunk, in the offset formulation.
@group(0) @binding(12) var<storage, read> zhat0: array<real>;

// Stores the signs of cell 0's pre-activations, taken at theta_0. One invocation per
// (sample, word).
@compute @workgroup_size(64)
fn store_signs(@builtin(global_invocation_id) id: vec3<u32>) {
    let word = id.x;
    let row = id.y;
    if (word >= params.words || row >= params.rows) {
        return;
    }
    let width = params.cells * params.hidden;
    var bits = 0u;
    let end = min(32u, params.hidden - word * 32u);
    for (var j = 0u; j < end; j++) {
        if (zhat[row * width + word * 32u + j] > 0.0) {
            bits |= 1u << j;
        }
    }
    positive0_out[(params.row_offset + row) * params.words + word] = bits;
}

// Counts hidden units whose pre-activation has the sign it had at theta_0. One invocation
// per (sample, cell).
@compute @workgroup_size(64)
fn count_same_sign(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let width = params.cells * params.hidden;
    let first = row * width + cell * params.hidden;
    let signs = (params.row_offset + row) * params.words;
    var count = 0u;
    for (var j = 0u; j < params.hidden; j++) {
        let was_positive = ((positive0[signs + j / 32u] >> (j % 32u)) & 1u) == 1u;
        if ((zhat[first + j] > 0.0) == was_positive) {
            count += 1u;
        }
    }
    atomicAdd(&same_sign[cell], count);
}

// The offset formulation: zhat holds e = zhat - zhat_0, so the sign of zhat_0 + e is
// compared with that of zhat_0. One invocation per (sample, cell).
@compute @workgroup_size(64)
fn count_same_sign_offset(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let width = params.cells * params.hidden;
    let first = row * width + cell * params.hidden;
    let start = row * params.hidden;
    var count = 0u;
    for (var j = 0u; j < params.hidden; j++) {
        let u0 = zhat0[start + j];
        if ((u0 + zhat[first + j] > 0.0) == (u0 > 0.0)) {
            count += 1u;
        }
    }
    atomicAdd(&same_sign[cell], count);
}

// Counts samples whose largest f - f0 is at the true label (the first maximum wins). One
// invocation per (sample, cell).
@compute @workgroup_size(64)
fn count_correct(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let sample = params.row_offset + row;
    let at = (cell * params.rows + row) * CLASSES;
    var best = 0u;
    var best_output: real = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        let output = f[at + k] - f0[sample * CLASSES + k];
        if (k == 0u || output > best_output) {
            best = k;
            best_output = output;
        }
    }
    if (best == labels[sample]) {
        atomicAdd(&correct[cell], 1u);
    }
}

// Writes partial sums of (w - w0)^2: invocation (part, cell) covers a fixed range of the
// cell's block, and w0 is one block shared by every cell.
@compute @workgroup_size(64)
fn squared_distance(@builtin(global_invocation_id) id: vec3<u32>) {
    let part = id.x;
    let cell = id.y;
    if (part >= params.parts || cell >= params.cells) {
        return;
    }
    let per_part = (params.block + params.parts - 1u) / params.parts;
    let start = min(part * per_part, params.block);
    let end = min(start + per_part, params.block);
    var total: real = 0.0;
    for (var e = start; e < end; e++) {
        let difference = w[cell * params.block + e] - w0[e];
        total += difference * difference;
    }
    partial[cell * params.parts + part] = total;
}
