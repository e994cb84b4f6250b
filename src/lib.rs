//! lazysweep trains grids of two-layer networks, one per (learning rate eta, output scale
//! alpha) cell, and reports how accuracy and hidden-feature movement depend on both.
//!
//! The model, loss and optimizers follow Kanoh and Sugiyama, "Unintended Effects on
//! Adaptive Learning Rate for Training Neural Network with Output Scale Change"
//! (arXiv:2103.03466).

pub mod cpu;
pub mod data;
pub mod engine;
pub mod gpu;
pub mod model;
pub mod optim;
pub mod report;
pub mod sweep;
