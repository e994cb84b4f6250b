// The uniform of matmul.wgsl and matmul_tiled.wgsl, which the host prepends to both after
// real_f32.wgsl or real_f64.wgsl; `MatmulShape::uniform` in src/gpu/kernels.rs writes it.
// Each operand is addressed through element strides:
//   A[b](i, k) = a[a_offset + b * a_batch + i * a_row + k * a_col]   (m x k)
//   B[b](k, j) = b[b_offset + b * b_batch + k * b_row + j * b_col]   (k x n)
//   C[b](i, j) = c[c_offset + b * c_batch + i * c_row + j * c_col]   (m x n)
struct Shape {
    scale: real,
    m: u32,
    n: u32,
    k: u32,
    // 1 to add scale * A B to C, 0 to overwrite C.
    accumulate: u32,
    a_offset: u32,
    a_row: u32,
    a_col: u32,
    a_batch: u32,
    b_offset: u32,
    b_row: u32,
    b_col: u32,
    b_batch: u32,
    c_offset: u32,
    c_row: u32,
    c_col: u32,
    c_batch: u32,
}
