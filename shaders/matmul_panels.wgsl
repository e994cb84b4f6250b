// Batched float32 matrix product C[b] = scale * A[b] B[b] (+ C[b] when accumulating), with
// the operands read through uniform-buffer windows.
//
// Mesa's lavapipe runs the invocations of a workgroup as SIMD lanes. It reads a storage
// buffer one lane and one component at a time, with a bounds check per element (the lane
// loop of emit_load_mem in gallivm's lp_bld_nir_soa.c, Mesa 21.3 and later). On 22.3.6,
// loads inside a loop cost the same for constant, shared and per-lane addresses. It reads a
// uniform buffer with one gather per component instead, which measured 6 to 16 times
// cheaper per loaded value. So the product runs in two steps:
//
// `pack` copies A and B, through the element strides of matmul.wgsl, into a scratch buffer
// of 64 KiB windows (the largest uniform binding that wgpu guarantees). The rows of A are
// cut into panels of `width` rows and the columns of B into panels of `width` columns.
// Window w of a panel holds steps w * window_depth ... of k, stored k-major: element (k, i)
// of the window is at k * width + i. Rows, columns and steps of k past the edge of the
// operand are stored as zero, so the product loop has no bounds checks.
//
// `multiply` computes one tile of C, the product of an A panel and a B panel, over at most
// WINDOWS windows of k, in one dispatch with those windows bound as uniform buffers. A
// workgroup is one subgroup of 8 invocations (the host offers this kernel only on devices
// whose subgroups have exactly 8) and computes 64 rows by 8 columns of the tile: lane j
// accumulates rows 8 j ... 8 j + 7 of those 8 columns in sixteen vec4 registers. The
// lanes need the same 8 values of B at each step of k, so each lane loads one of them and
// subgroupBroadcast hands it to the others, which costs one load of B per lane and step
// instead of eight. A product with more steps of k than the windows of one dispatch adds
// each further part to C.
//
// The host plans the windows and dispatches (MatmulKernel in src/gpu/kernels.rs).
// NOTE: on lavapipe the window loads still cost much of the time. Before B was shared,
// the loop ran 3 to 4.6 times faster with the loads replaced by arithmetic (a rough
// measure, because LLVM may have shared some products of the stand-in values). A 16 x 8
// block per invocation measured no faster than 8 x 8.

// Floats per window: 64 KiB.
const WINDOW: u32 = 16384u;
// Windows of each operand bound to one `multiply` dispatch.
const WINDOWS: u32 = 5u;
const BLOCK: u32 = 8u;

// Source and destination of one `pack` dispatch. Element (p, d) of batch entry b, with p
// the row of A or the column of B and d the step of k, is at
// src[offset + b * batch_stride + p * p_stride + d * d_stride].
struct Pack {
    offset: u32,
    p_stride: u32,
    d_stride: u32,
    batch_stride: u32,
    // Rows of A or columns of B.
    extent: u32,
    // Steps of k.
    depth: u32,
    // Rows or columns per panel, a multiple of 8.
    width: u32,
    // Steps of k per window.
    window_depth: u32,
    // Panels per batch entry.
    panels: u32,
    // Windows per panel.
    windows: u32,
    // First window of this operand in the scratch buffer.
    first_window: u32,
    // Elements to write: batch * panels * windows * window_depth * width.
    count: u32,
    // Invocations along x of the dispatch, to rebuild a linear index from two dimensions.
    row_invocations: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// One tile of C in one `multiply` dispatch.
struct Tile {
    // Rows and columns of the tile that lie inside C.
    rows: u32,
    cols: u32,
    // Position of the tile in C[b].
    row0: u32,
    col0: u32,
    // Panel widths of A and B, in floats.
    a_width: u32,
    b_width: u32,
    // Steps of k in this dispatch, and per window.
    depth: u32,
    window_depth: u32,
    accumulate: u32,
    scale: f32,
    // Element (i, j) of C[b] is at c[c_offset + i * c_row + j * c_col]; c_offset includes b.
    c_offset: u32,
    c_row: u32,
    c_col: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// `pack` and `multiply` use separate binding numbers, so that one module serves both.
@group(0) @binding(12) var<uniform> pack_params: Pack;
@group(0) @binding(13) var<storage, read> source: array<f32>;
@group(0) @binding(14) var<storage, read_write> scratch: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn pack(@builtin(global_invocation_id) id: vec3<u32>) {
    let p = pack_params;
    let index = id.x + id.y * p.row_invocations;
    if (index >= p.count) {
        return;
    }
    let i = index % p.width;
    var rest = index / p.width;
    let kk = rest % p.window_depth;
    rest /= p.window_depth;
    let window = rest % p.windows;
    rest /= p.windows;
    let panel = rest % p.panels;
    let batch = rest / p.panels;

    let along = panel * p.width + i;
    let depth = window * p.window_depth + kk;
    let inside = along < p.extent && depth < p.depth;
    // Clamped, so that the load stays inside the operand even where the value is unused.
    let at = p.offset + batch * p.batch_stride + min(along, p.extent - 1u) * p.p_stride
        + min(depth, p.depth - 1u) * p.d_stride;
    let value = source[at];
    let window_index = p.first_window + (batch * p.panels + panel) * p.windows + window;
    scratch[window_index * WINDOW + kk * p.width + i] = select(0.0, value, inside);
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<uniform> a0: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<uniform> a1: array<vec4<f32>, 4096>;
@group(0) @binding(4) var<uniform> a2: array<vec4<f32>, 4096>;
@group(0) @binding(5) var<uniform> a3: array<vec4<f32>, 4096>;
@group(0) @binding(6) var<uniform> a4: array<vec4<f32>, 4096>;
@group(0) @binding(7) var<uniform> b0: array<vec4<f32>, 4096>;
@group(0) @binding(8) var<uniform> b1: array<vec4<f32>, 4096>;
@group(0) @binding(9) var<uniform> b2: array<vec4<f32>, 4096>;
@group(0) @binding(10) var<uniform> b3: array<vec4<f32>, 4096>;
@group(0) @binding(11) var<uniform> b4: array<vec4<f32>, 4096>;

// The 8 x 8 block of C: row i in columns 0-3 (`l`) and 4-7 (`r`).
var<private> c0l: vec4<f32>;
var<private> c0r: vec4<f32>;
var<private> c1l: vec4<f32>;
var<private> c1r: vec4<f32>;
var<private> c2l: vec4<f32>;
var<private> c2r: vec4<f32>;
var<private> c3l: vec4<f32>;
var<private> c3r: vec4<f32>;
var<private> c4l: vec4<f32>;
var<private> c4r: vec4<f32>;
var<private> c5l: vec4<f32>;
var<private> c5r: vec4<f32>;
var<private> c6l: vec4<f32>;
var<private> c6r: vec4<f32>;
var<private> c7l: vec4<f32>;
var<private> c7r: vec4<f32>;

// Adds one step of k: rows 0-3 of A in `x`, rows 4-7 in `y`, columns of B in `l` and `r`.
fn add_step(x: vec4<f32>, y: vec4<f32>, l: vec4<f32>, r: vec4<f32>) {
    c0l += x.x * l;
    c0r += x.x * r;
    c1l += x.y * l;
    c1r += x.y * r;
    c2l += x.z * l;
    c2r += x.z * r;
    c3l += x.w * l;
    c3r += x.w * r;
    c4l += y.x * l;
    c4r += y.x * r;
    c5l += y.y * l;
    c5r += y.y * r;
    c6l += y.z * l;
    c6r += y.z * r;
    c7l += y.w * l;
    c7r += y.w * r;
}

// Returns the steps of k in window `window` of this dispatch, rounded up to an even count.
// The rounding reads zeros, because `pack` fills every window to its full depth.
fn window_steps(window: u32) -> u32 {
    let start = min(tile.depth, window * tile.window_depth);
    let steps = min(tile.window_depth, tile.depth - start);
    return (steps + 1u) & ~1u;
}

// Stores row `i` of the block at (row, col) of the tile.
fn store_row(row: u32, col: u32, i: u32, left: vec4<f32>, right: vec4<f32>) {
    if (row + i >= tile.rows) {
        return;
    }
    let values = array<f32, 8>(left.x, left.y, left.z, left.w, right.x, right.y, right.z, right.w);
    let base = tile.c_offset + (tile.row0 + row + i) * tile.c_row;
    let cols = min(BLOCK, tile.cols - col);
    for (var j = 0u; j < cols; j++) {
        let at = base + (tile.col0 + col + j) * tile.c_col;
        var value = tile.scale * values[j];
        if (tile.accumulate != 0u) {
            value += c[at];
        }
        c[at] = value;
    }
}

// The windows are separate bindings, so each gets its own copy of the loop. Every loop
// advances two steps of k; vec4 index (k * width + row) / 4 steps by width / 4 per k.
// Lanes whose rows lie past the tile still run the loops, because every lane takes part
// in the broadcasts, and skip only the stores.
@compute @workgroup_size(8, 1, 1)
fn multiply(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let row = group.y * 64u + lane * BLOCK;
    let col = group.x * BLOCK;
    let a_step = tile.a_width / 4u;
    let b_step = tile.b_width / 4u;
    let a_first = row / 4u;
    // Lane j loads column col + j of B: component j % 4 of the vec4 at (col + j) / 4.
    let b_first = col / 4u + lane / 4u;
    let part = lane % 4u;

    var steps = window_steps(0u);
    var ai = a_first;
    var bi = b_first;
    for (var kk = 0u; kk < steps; kk += 2u) {
        let first = b0[bi][part];
        let second = b0[bi + b_step][part];
        add_step(a0[ai], a0[ai + 1u], spread_left(first), spread_right(first));
        add_step(a0[ai + a_step], a0[ai + a_step + 1u], spread_left(second), spread_right(second));
        ai += 2u * a_step;
        bi += 2u * b_step;
    }
    steps = window_steps(1u);
    ai = a_first;
    bi = b_first;
    for (var kk = 0u; kk < steps; kk += 2u) {
        let first = b1[bi][part];
        let second = b1[bi + b_step][part];
        add_step(a1[ai], a1[ai + 1u], spread_left(first), spread_right(first));
        add_step(a1[ai + a_step], a1[ai + a_step + 1u], spread_left(second), spread_right(second));
        ai += 2u * a_step;
        bi += 2u * b_step;
    }
    steps = window_steps(2u);
    ai = a_first;
    bi = b_first;
    for (var kk = 0u; kk < steps; kk += 2u) {
        let first = b2[bi][part];
        let second = b2[bi + b_step][part];
        add_step(a2[ai], a2[ai + 1u], spread_left(first), spread_right(first));
        add_step(a2[ai + a_step], a2[ai + a_step + 1u], spread_left(second), spread_right(second));
        ai += 2u * a_step;
        bi += 2u * b_step;
    }
    steps = window_steps(3u);
    ai = a_first;
    bi = b_first;
    for (var kk = 0u; kk < steps; kk += 2u) {
        let first = b3[bi][part];
        let second = b3[bi + b_step][part];
        add_step(a3[ai], a3[ai + 1u], spread_left(first), spread_right(first));
        add_step(a3[ai + a_step], a3[ai + a_step + 1u], spread_left(second), spread_right(second));
        ai += 2u * a_step;
        bi += 2u * b_step;
    }
    steps = window_steps(4u);
    ai = a_first;
    bi = b_first;
    for (var kk = 0u; kk < steps; kk += 2u) {
        let first = b4[bi][part];
        let second = b4[bi + b_step][part];
        add_step(a4[ai], a4[ai + 1u], spread_left(first), spread_right(first));
        add_step(a4[ai + a_step], a4[ai + a_step + 1u], spread_left(second), spread_right(second));
        ai += 2u * a_step;
        bi += 2u * b_step;
    }

    if (row >= tile.rows || col >= tile.cols) {
        return;
    }
    store_row(row, col, 0u, c0l, c0r);
    store_row(row, col, 1u, c1l, c1r);
    store_row(row, col, 2u, c2l, c2r);
    store_row(row, col, 3u, c3l, c3r);
    store_row(row, col, 4u, c4l, c4r);
    store_row(row, col, 5u, c5l, c5r);
    store_row(row, col, 6u, c6l, c6r);
    store_row(row, col, 7u, c7l, c7r);
}

// Returns lanes 0-3's values, the first four columns of the block.
fn spread_left(value: f32) -> vec4<f32> {
    return vec4<f32>(
        subgroupBroadcast(value, 0u),
        subgroupBroadcast(value, 1u),
        subgroupBroadcast(value, 2u),
        subgroupBroadcast(value, 3u),
    );
}

// Returns lanes 4-7's values, the last four columns of the block.
fn spread_right(value: f32) -> vec4<f32> {
    return vec4<f32>(
        subgroupBroadcast(value, 4u),
        subgroupBroadcast(value, 5u),
        subgroupBroadcast(value, 6u),
        subgroupBroadcast(value, 7u),
    );
}
