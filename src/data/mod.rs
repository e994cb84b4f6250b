//! Temporary stand-in for the data module until the readers land.

pub struct Prepared {
    pub name: String,
    pub d: usize,
    pub x_train: Vec<f64>,
    pub y_train: Vec<u8>,
    pub x_test: Vec<f64>,
    pub y_test: Vec<u8>,
    pub train_indices: Vec<usize>,
    pub test_indices: Vec<usize>,
}

impl Prepared {
    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }
    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }
}
