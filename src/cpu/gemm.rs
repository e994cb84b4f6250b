//! Strided float64 matrix views and the product C = scale * A B over them.
//!
//! The product is `matrixmultiply::dgemm`, which packs both operands into cache-sized
//! panels and runs a SIMD micro-kernel on all physical cores. Each output element is
//! accumulated in the same order whatever the other dimensions are, so a cell's results
//! do not depend on how many other cells share the stacked product.

/// A read-only matrix view into a slice with arbitrary row and column strides.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A writable matrix view into a slice with arbitrary row and column strides.
pub struct MatMut<'a> {
    data: &'a mut [f64],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

fn check_fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) {
    if rows > 0 && cols > 0 {
        let last = (rows - 1) * row_stride + (cols - 1) * col_stride;
        assert!(
            last < len,
            "matrix view {rows}x{cols} does not fit in a slice of {len}"
        );
    }
}

impl<'a> MatRef<'a> {
    pub fn new(
        data: &'a [f64],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        check_fits(data.len(), rows, cols, row_stride, col_stride);
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// Views a dense row-major matrix.
    pub fn row_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// Returns the transpose, without copying.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

impl<'a> MatMut<'a> {
    pub fn new(
        data: &'a mut [f64],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        check_fits(data.len(), rows, cols, row_stride, col_stride);
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// Views a dense row-major matrix.
    pub fn row_major(data: &'a mut [f64], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }
}

/// Overwrites `c` with `scale * a * b`.
pub fn gemm(scale: f64, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>) {
    gemm_with_beta(scale, a, b, 0.0, c);
}

/// Adds `scale * a * b` to `c`.
pub fn gemm_accumulate(scale: f64, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>) {
    gemm_with_beta(scale, a, b, 1.0, c);
}

/// Overwrites `c` with `scale * a * b + beta * c`; with beta = 0 the old `c` is not read.
fn gemm_with_beta(scale: f64, a: MatRef<'_>, b: MatRef<'_>, beta: f64, c: MatMut<'_>) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert_eq!(a.rows, c.rows, "output rows differ");
    assert_eq!(b.cols, c.cols, "output columns differ");
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    // SAFETY: the constructors checked that every element addressed through the strides
    // lies inside its slice, and `c` is borrowed mutably so it aliases neither input.
    unsafe {
        matrixmultiply::dgemm(
            a.rows,
            a.cols,
            b.cols,
            scale,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.data.as_mut_ptr(),
            c.row_stride as isize,
            c.col_stride as isize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive_with_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut c = vec![0.0; m * n];
        // b is stored n x k, so A B^T uses its transpose view.
        gemm(
            2.0,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, n, k).t(),
            MatMut::row_major(&mut c, m, n),
        );
        for i in 0..m {
            for j in 0..n {
                let expected: f64 = (0..k).map(|l| a[i * k + l] * b[j * k + l]).sum::<f64>() * 2.0;
                assert!((c[i * n + j] - expected).abs() < 1e-13, "({i}, {j})");
            }
        }
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn view_outside_slice_panics() {
        let data = [0.0; 5];
        let _ = MatRef::row_major(&data, 2, 3);
    }
}
