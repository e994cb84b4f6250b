// Batched matrix product C[b] = scale * A[b] B[b] (+ C[b] when accumulating) in `real`.
//
// Every operand is addressed through the element strides of `Shape` (matmul_shape.wgsl,
// which the host prepends), so one kernel serves plain and transposed operands and blocks
// of wider matrices.
//
// Each invocation accumulates an 8 x 8 block of C in sixteen vec4 registers and uses no
// workgroup memory and no barriers: on CPU-hosted Vulkan drivers such as lavapipe a
// barrier costs far more than the loads it would save. Rows and columns past the edge of
// C are clamped to the last valid one when loading and skipped when storing, so the inner
// loop has no branches.
//
// The block is written out variable by variable, because naga keeps private arrays
// indexed in loops in memory, so the block shape is fixed here and only the workgroup
// shape is a pipeline-overridable constant.
// NOTE: on lavapipe (Mesa 22.3.6, LLVM 15) this kernel measured 1.4-1.8 GFLOP/s, because
// that driver reads a storage buffer inside a loop one SIMD lane and one component at a
// time, with a bounds check per element, whatever the address pattern or the load width.
// The same kernel with its loads replaced by arithmetic ran 12 to 15 times faster. On that
// driver the engine's measurement picks matmul_panels.wgsl, which reads the operands
// through uniform buffers (docs/BENCHMARKS.md, "GPU engine on lavapipe").

// Invocations per workgroup along columns (x) and rows (y) of 8 x 8 blocks.
override GROUP_X: u32 = 8u;
override GROUP_Y: u32 = 8u;

const BLOCK: u32 = 8u;

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read_write> c: array<real>;

// Stores row `i` of the block, four columns from each of `left` and `right`.
fn store_row(row0: u32, col0: u32, i: u32, left: vec4<real>, right: vec4<real>, batch: u32) {
    let row = row0 + i;
    if (row >= shape.m) {
        return;
    }
    let values = array<real, 8>(left.x, left.y, left.z, left.w, right.x, right.y, right.z, right.w);
    let base = shape.c_offset + batch * shape.c_batch + row * shape.c_row;
    let cols = min(BLOCK, shape.n - col0);
    for (var j = 0u; j < cols; j++) {
        let at = base + (col0 + j) * shape.c_col;
        var value = shape.scale * values[j];
        if (shape.accumulate != 0u) {
            value += c[at];
        }
        c[at] = value;
    }
}

@compute @workgroup_size(GROUP_X, GROUP_Y, 1)
fn matmul(@builtin(global_invocation_id) id: vec3<u32>) {
    let row0 = id.y * BLOCK;
    let col0 = id.x * BLOCK;
    let batch = id.z;
    if (row0 >= shape.m || col0 >= shape.n) {
        return;
    }

    // Position of row i of A and of column j of B at the current kk.
    let a_base = shape.a_offset + batch * shape.a_batch;
    let b_base = shape.b_offset + batch * shape.b_batch;
    var a0 = a_base + min(row0 + 0u, shape.m - 1u) * shape.a_row;
    var a1 = a_base + min(row0 + 1u, shape.m - 1u) * shape.a_row;
    var a2 = a_base + min(row0 + 2u, shape.m - 1u) * shape.a_row;
    var a3 = a_base + min(row0 + 3u, shape.m - 1u) * shape.a_row;
    var a4 = a_base + min(row0 + 4u, shape.m - 1u) * shape.a_row;
    var a5 = a_base + min(row0 + 5u, shape.m - 1u) * shape.a_row;
    var a6 = a_base + min(row0 + 6u, shape.m - 1u) * shape.a_row;
    var a7 = a_base + min(row0 + 7u, shape.m - 1u) * shape.a_row;
    var b0 = b_base + min(col0 + 0u, shape.n - 1u) * shape.b_col;
    var b1 = b_base + min(col0 + 1u, shape.n - 1u) * shape.b_col;
    var b2 = b_base + min(col0 + 2u, shape.n - 1u) * shape.b_col;
    var b3 = b_base + min(col0 + 3u, shape.n - 1u) * shape.b_col;
    var b4 = b_base + min(col0 + 4u, shape.n - 1u) * shape.b_col;
    var b5 = b_base + min(col0 + 5u, shape.n - 1u) * shape.b_col;
    var b6 = b_base + min(col0 + 6u, shape.n - 1u) * shape.b_col;
    var b7 = b_base + min(col0 + 7u, shape.n - 1u) * shape.b_col;

    var c0l = vec4<real>(0.0);
    var c0r = vec4<real>(0.0);
    var c1l = vec4<real>(0.0);
    var c1r = vec4<real>(0.0);
    var c2l = vec4<real>(0.0);
    var c2r = vec4<real>(0.0);
    var c3l = vec4<real>(0.0);
    var c3r = vec4<real>(0.0);
    var c4l = vec4<real>(0.0);
    var c4r = vec4<real>(0.0);
    var c5l = vec4<real>(0.0);
    var c5r = vec4<real>(0.0);
    var c6l = vec4<real>(0.0);
    var c6r = vec4<real>(0.0);
    var c7l = vec4<real>(0.0);
    var c7r = vec4<real>(0.0);

    // Loop constants read once, so the loop body reads only the operands.
    let depth = shape.k;
    let a_step = shape.a_col;
    let b_step = shape.b_row;
    for (var kk = 0u; kk < depth; kk++) {
        let left = vec4<real>(b[b0], b[b1], b[b2], b[b3]);
        let right = vec4<real>(b[b4], b[b5], b[b6], b[b7]);
        let x0 = a[a0];
        let x1 = a[a1];
        let x2 = a[a2];
        let x3 = a[a3];
        let x4 = a[a4];
        let x5 = a[a5];
        let x6 = a[a6];
        let x7 = a[a7];
        c0l += x0 * left;
        c0r += x0 * right;
        c1l += x1 * left;
        c1r += x1 * right;
        c2l += x2 * left;
        c2r += x2 * right;
        c3l += x3 * left;
        c3r += x3 * right;
        c4l += x4 * left;
        c4r += x4 * right;
        c5l += x5 * left;
        c5r += x5 * right;
        c6l += x6 * left;
        c6r += x6 * right;
        c7l += x7 * left;
        c7r += x7 * right;
        a0 += a_step;
        a1 += a_step;
        a2 += a_step;
        a3 += a_step;
        a4 += a_step;
        a5 += a_step;
        a6 += a_step;
        a7 += a_step;
        b0 += b_step;
        b1 += b_step;
        b2 += b_step;
        b3 += b_step;
        b4 += b_step;
        b5 += b_step;
        b6 += b_step;
        b7 += b_step;
    }

    store_row(row0, col0, 0u, c0l, c0r, batch);
    store_row(row0, col0, 1u, c1l, c1r, batch);
    store_row(row0, col0, 2u, c2l, c2r, batch);
    store_row(row0, col0, 3u, c3l, c3r, batch);
    store_row(row0, col0, 4u, c4l, c4r, batch);
    store_row(row0, col0, 5u, c5l, c5r, batch);
    store_row(row0, col0, 6u, c6l, c6r, batch);
    store_row(row0, col0, 7u, c7l, c7r, batch);
}
