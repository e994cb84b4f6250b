// Batched matrix product C[b] = scale * A[b] B[b] (+ C[b] when accumulating) in `real`,
// with operands staged in workgroup memory.
//
// The operands are addressed through element strides exactly as in matmul.wgsl, through
// the same `Shape` uniform (matmul_shape.wgsl, which the host prepends). A workgroup of
// 16 x 16 invocations computes a 64 x 64 tile of C: for each slice of 16 steps of k it
// copies a 64 x 16 tile of A and a 16 x 64 tile of B into workgroup memory, waits at a
// barrier, and each invocation adds the products for its 4 x 4 block. On GPUs this reads
// each operand element from device memory once per workgroup instead of once per
// invocation. On CPU-hosted drivers the barriers cost more than they save, which is why
// the engine measures both kernels on the adapter.
// Elements past the edges of A and B are staged as zero, so the inner loop has no
// branches.

// Invocations along each side of the workgroup, outputs per invocation along each side,
// and the slice of k staged at a time.
const SIDE: u32 = 16u;
const PER: u32 = 4u;
const TILE: u32 = 64u;
const DEPTH: u32 = 16u;

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read_write> c: array<real>;

// tile_a[row * DEPTH + kk] and tile_b[kk * TILE + col].
var<workgroup> tile_a: array<real, 1024>;
var<workgroup> tile_b: array<real, 1024>;

@compute @workgroup_size(16, 16, 1)
fn matmul_tiled(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let batch = group.z;
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    let a_base = shape.a_offset + batch * shape.a_batch;
    let b_base = shape.b_offset + batch * shape.b_batch;

    var acc0 = vec4<real>(0.0);
    var acc1 = vec4<real>(0.0);
    var acc2 = vec4<real>(0.0);
    var acc3 = vec4<real>(0.0);

    for (var k0 = 0u; k0 < shape.k; k0 += DEPTH) {
        // Each of the 256 invocations stages 4 elements of each tile.
        for (var r = 0u; r < 4u; r++) {
            let e = lane + r * SIDE * SIDE;
            let a_row = row0 + e / DEPTH;
            let a_k = k0 + e % DEPTH;
            var a_value: real = 0.0;
            if (a_row < shape.m && a_k < shape.k) {
                a_value = a[a_base + a_row * shape.a_row + a_k * shape.a_col];
            }
            tile_a[e] = a_value;

            let b_k = k0 + e / TILE;
            let b_col = col0 + e % TILE;
            var b_value: real = 0.0;
            if (b_k < shape.k && b_col < shape.n) {
                b_value = b[b_base + b_k * shape.b_row + b_col * shape.b_col];
            }
            tile_b[e] = b_value;
        }
        workgroupBarrier();

        let my_row = local.y * PER;
        let my_col = local.x * PER;
        for (var kk = 0u; kk < DEPTH; kk++) {
            let right = vec4<real>(
                tile_b[kk * TILE + my_col],
                tile_b[kk * TILE + my_col + 1u],
                tile_b[kk * TILE + my_col + 2u],
                tile_b[kk * TILE + my_col + 3u],
            );
            acc0 += tile_a[(my_row + 0u) * DEPTH + kk] * right;
            acc1 += tile_a[(my_row + 1u) * DEPTH + kk] * right;
            acc2 += tile_a[(my_row + 2u) * DEPTH + kk] * right;
            acc3 += tile_a[(my_row + 3u) * DEPTH + kk] * right;
        }
        workgroupBarrier();
    }

    let row = row0 + local.y * PER;
    let col = col0 + local.x * PER;
    store_row(row + 0u, col, acc0, batch);
    store_row(row + 1u, col, acc1, batch);
    store_row(row + 2u, col, acc2, batch);
    store_row(row + 3u, col, acc3, batch);
}

// Stores four columns of one row of the block, skipping those past the edge of C.
fn store_row(row: u32, col: u32, values: vec4<real>, batch: u32) {
    if (row >= shape.m) {
        return;
    }
    let base = shape.c_offset + batch * shape.c_batch + row * shape.c_row;
    for (var j = 0u; j < PER; j++) {
        if (col + j >= shape.n) {
            return;
        }
        let at = base + (col + j) * shape.c_col;
        var value = shape.scale * values[j];
        if (shape.accumulate != 0u) {
            value += c[at];
        }
        c[at] = value;
    }
}
