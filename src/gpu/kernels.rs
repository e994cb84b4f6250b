//! Compiled compute pipelines, their uniform structs, and helpers that create buffers and
//! record dispatches.

use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;
use wgpu::{BindGroup, Buffer, BufferUsages, ComputePipeline, Device};

use super::device::{GpuDevice, GpuError};
use super::layout::{Fields, Scalar};

/// Invocations per workgroup of the one-dimensional kernels; the shaders fix it too.
pub(crate) const GROUP: u32 = 64;

/// Access mode of one binding in a kernel.
#[derive(Clone, Copy)]
pub(crate) enum Access {
    Uniform,
    Read,
    ReadWrite,
}

/// One entry point with an explicit bind group layout, so that several entry points of a
/// module can use different subsets of its bindings.
#[derive(Clone)]
pub(crate) struct Kernel {
    /// The entry point's name.
    name: &'static str,
    pipeline: ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: Vec<u32>,
}

impl Kernel {
    pub(crate) fn new(
        device: &Device,
        module: &wgpu::ShaderModule,
        entry: &'static str,
        bindings: &[(u32, Access)],
        constants: &[(&str, f64)],
    ) -> Self {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match access {
                    Access::Uniform => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    Access::Read | Access::ReadWrite => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: matches!(access, Access::Read),
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(entry),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        Self {
            name: entry,
            pipeline,
            layout,
            bindings: bindings.iter().map(|&(b, _)| b).collect(),
        }
    }

    /// Binds `buffers` to the kernel's bindings, in the order they were declared.
    pub(crate) fn bind(&self, device: &Device, buffers: &[&Buffer]) -> BindGroup {
        assert_eq!(buffers.len(), self.bindings.len(), "one buffer per binding");
        let entries: Vec<wgpu::BindGroupEntry> = self
            .bindings
            .iter()
            .zip(buffers)
            .map(|(&binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// Prepares a dispatch of this kernel over `groups` workgroups.
    pub(crate) fn dispatch(
        &self,
        device: &Device,
        buffers: &[&Buffer],
        groups: [u32; 3],
    ) -> Dispatch {
        Dispatch {
            name: self.name,
            pipeline: self.pipeline.clone(),
            bind_group: self.bind(device, buffers),
            groups,
            then: Vec::new(),
        }
    }
}

/// A kernel with its buffers bound and its workgroup counts fixed, ready to be recorded
/// into any number of passes.
pub(crate) struct Dispatch {
    /// The kernel's entry point, which names it in profiles.
    pub name: &'static str,
    pipeline: ComputePipeline,
    bind_group: BindGroup,
    groups: [u32; 3],
    /// Dispatches recorded after this one, for work that takes several steps (the panel
    /// matrix product).
    then: Vec<Dispatch>,
}

impl Dispatch {
    pub(crate) fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        if !self.groups.contains(&0) {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
        }
        for next in &self.then {
            next.record(pass);
        }
    }

    /// Records the dispatch in a pass of its own that writes timestamps `2 i` and
    /// `2 i + 1` of `queries` at its start and end.
    pub(crate) fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        queries: &wgpu::QuerySet,
        i: u32,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.name),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: queries,
                beginning_of_pass_write_index: Some(2 * i),
                end_of_pass_write_index: Some(2 * i + 1),
            }),
        });
        self.record(&mut pass);
    }
}

/// Rows and columns of C that one invocation of the matrix-product kernel computes.
pub const MATMUL_BLOCK: u32 = 8;

/// The matrix-product kernels, which differ in where they read the operands from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKind {
    /// matmul.wgsl: each invocation computes an 8 x 8 block of C from storage buffers.
    Registers,
    /// matmul_tiled.wgsl: workgroups stage tiles of the operands in workgroup memory.
    Tiled,
    /// matmul_panels.wgsl: the operands are copied into panels that the product reads
    /// through uniform-buffer windows.
    Panels,
}

/// Choice of matrix-product kernel and its workgroup shape.
///
/// In matmul.wgsl each invocation computes an 8 x 8 block of C from registers alone, in
/// workgroups of `group_x` x `group_y` invocations. In matmul_tiled.wgsl (`Tiled`), 16 x 16
/// workgroups stage the operands of a 64 x 64 block of C in workgroup memory. In
/// matmul_panels.wgsl (`Panels`), 8 x 8 workgroups of 8 x 8 blocks read packed operands
/// from uniform buffers. `group_x` and `group_y` shape the register kernel's workgroups,
/// which `Panels` uses for the products it does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulConfig {
    /// Invocations along columns of blocks.
    pub group_x: u32,
    /// Invocations along rows of blocks.
    pub group_y: u32,
    pub kind: MatmulKind,
}

impl MatmulConfig {
    /// Returns the register-blocked kernel in `group_x` x `group_y` workgroups.
    pub const fn registers(group_x: u32, group_y: u32) -> Self {
        Self {
            group_x,
            group_y,
            kind: MatmulKind::Registers,
        }
    }

    /// The workgroup-memory tiled kernel.
    pub const TILED: MatmulConfig = MatmulConfig {
        group_x: 16,
        group_y: 16,
        kind: MatmulKind::Tiled,
    };

    /// The kernel that reads packed operands through uniform buffers.
    pub const PANELS: MatmulConfig = MatmulConfig {
        group_x: 8,
        group_y: 8,
        kind: MatmulKind::Panels,
    };
}

impl Default for MatmulConfig {
    fn default() -> Self {
        Self::registers(8, 8)
    }
}

impl std::fmt::Display for MatmulConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            MatmulKind::Registers => write!(f, "registers {}x{}", self.group_x, self.group_y),
            MatmulKind::Tiled => write!(f, "tiled {TILED_BLOCK}x{TILED_BLOCK}"),
            MatmulKind::Panels => write!(f, "panels {PANEL_WIDTH}x{PANEL_WIDTH}"),
        }
    }
}

/// Rows and columns of C that one workgroup of the tiled kernel computes.
const TILED_BLOCK: u32 = 64;

/// Position of a matrix operand in its buffer, in elements: element (i, j) of batch entry b
/// is at `offset + b * batch_stride + i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    pub offset: u32,
    pub row_stride: u32,
    pub col_stride: u32,
    pub batch_stride: u32,
}

impl Operand {
    /// Describes a row-major matrix with `cols` columns.
    pub fn row_major(cols: u32) -> Self {
        Self {
            offset: 0,
            row_stride: cols,
            col_stride: 1,
            batch_stride: 0,
        }
    }

    /// Describes the transpose of a row-major matrix with `stored_cols` columns: element
    /// (i, j) of the operand is element (j, i) of the stored matrix, at j * stored_cols + i.
    pub fn transposed(stored_cols: u32) -> Self {
        Self {
            offset: 0,
            row_stride: 1,
            col_stride: stored_cols,
            batch_stride: 0,
        }
    }

    pub fn with_offset(self, offset: u32) -> Self {
        Self { offset, ..self }
    }

    pub fn with_batch_stride(self, batch_stride: u32) -> Self {
        Self {
            batch_stride,
            ..self
        }
    }
}

/// A batched product C[b] = scale A[b] B[b] (+ C[b] when `accumulate`), A m x k, B k x n.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatmulShape {
    pub batch: u32,
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub a: Operand,
    pub b: Operand,
    pub c: Operand,
    /// Factor applied to the product, rounded to the kernel's scalar type.
    pub scale: f64,
    pub accumulate: bool,
}

impl MatmulShape {
    /// Returns `Shape` of matmul_shape.wgsl with its scale in `scalar`.
    fn uniform(&self, scalar: Scalar) -> Vec<u8> {
        let mut fields = Fields::new(scalar)
            .real(self.scale)
            .word(self.m)
            .word(self.n)
            .word(self.k)
            .word(u32::from(self.accumulate));
        for o in [self.a, self.b, self.c] {
            for word in [o.offset, o.row_stride, o.col_stride, o.batch_stride] {
                fields = fields.word(word);
            }
        }
        fields.finish()
    }

    /// Returns the floating-point operations of the product: 2 m n k per batch entry.
    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// Every pipeline of the engine, compiled once per device.
#[derive(Clone)]
pub(crate) struct Kernels {
    /// The type of `real` in every kernel.
    pub scalar: Scalar,
    pub matmul: MatmulKernel,
    pub activate: Kernel,
    pub activate_offset: Kernel,
    pub apply_derivative: Kernel,
    pub loss_rows: Kernel,
    pub finish_loss: Kernel,
    pub update: Kernel,
    pub update_measured: Kernel,
    pub update_df64: Kernel,
    pub update_df64_measured: Kernel,
    pub output_change_df64: Kernel,
    pub finish_measure: Kernel,
    pub total_from_start: Kernel,
    pub advance_step: Kernel,
    pub store_signs: Kernel,
    pub count_same_sign: Kernel,
    pub count_same_sign_offset: Kernel,
    pub count_correct: Kernel,
    pub squared_distance: Kernel,
}

impl Kernels {
    /// Compiles every training kernel with `real` = `scalar`. With `Scalar::F64` the
    /// device must have `wgpu::Features::SHADER_F64`. The panel product, which computes
    /// in float32 with subgroups of 8, gives way to the register kernel in float64 and on
    /// devices without such subgroups.
    pub(crate) fn new(
        gpu: &GpuDevice,
        matmul_config: MatmulConfig,
        scalar: Scalar,
    ) -> Result<Self, GpuError> {
        use Access::{Read, ReadWrite, Uniform};
        let device = &gpu.device;
        let panels_usable = scalar == Scalar::F32 && panels_supported(gpu);
        let matmul_config = match matmul_config.kind {
            MatmulKind::Panels if !panels_usable => {
                MatmulConfig::registers(matmul_config.group_x, matmul_config.group_y)
            }
            _ => matmul_config,
        };
        gpu.checked("compiling the compute shaders", || {
            let module = |label: &'static str, parts: &[&str]| {
                device.create_shader_module(wgsl(label, with_real(scalar, parts)))
            };
            let activation = module("activation.wgsl", &ACTIVATION_PARTS);
            let loss = module("loss.wgsl", &LOSS_PARTS);
            let update = module("update.wgsl", &UPDATE_PARTS);
            let output_df64 = module("output_df64.wgsl", &OUTPUT_DF64_PARTS);
            let metrics = module(
                "metrics.wgsl",
                &[include_str!("../../shaders/metrics.wgsl")],
            );
            let kernel = |module, entry: &'static str, bindings: &[(u32, Access)]| {
                Kernel::new(device, module, entry, bindings, &[])
            };
            // The update kernels bind theta and theta_0 as df64 pairs even in f32, where they
            // are never read, and the measured ones add the partial sums. The df64 pipelines
            // are the same entry points with the DF64 constant set.
            let update_bindings = [
                (0, Uniform),
                (1, ReadWrite),
                (2, Read),
                (3, ReadWrite),
                (4, ReadWrite),
                (5, Read),
                (6, Read),
                (7, ReadWrite),
                (8, Read),
                (17, ReadWrite),
                (18, Read),
            ];
            let measured_update_bindings =
                [update_bindings.as_slice(), &[(12, ReadWrite)]].concat();
            let df64 = [("DF64", 1.0)];
            Self {
                scalar,
                matmul: MatmulKernel::compile(device, matmul_config, scalar),
                activate: kernel(
                    &activation,
                    "activate",
                    &[(0, Uniform), (1, Read), (2, ReadWrite), (3, ReadWrite)],
                ),
                activate_offset: kernel(&activation, "activate_offset", &ACTIVATE_OFFSET_BINDINGS),
                apply_derivative: kernel(
                    &activation,
                    "apply_derivative",
                    &[(0, Uniform), (4, ReadWrite), (5, Read)],
                ),
                loss_rows: kernel(
                    &loss,
                    "loss_rows",
                    &[
                        (0, Uniform),
                        (1, Read),
                        (2, Read),
                        (3, Read),
                        (4, Read),
                        (5, ReadWrite),
                        (6, ReadWrite),
                        (7, ReadWrite),
                        (13, ReadWrite),
                    ],
                ),
                finish_loss: kernel(
                    &loss,
                    "finish_loss",
                    &[
                        (0, Uniform),
                        (4, Read),
                        (6, ReadWrite),
                        (7, ReadWrite),
                        (8, ReadWrite),
                        (9, ReadWrite),
                        (10, ReadWrite),
                        (11, Read),
                        (12, ReadWrite),
                    ],
                ),
                update: kernel(&update, "update", &update_bindings),
                update_measured: kernel(&update, "update_measured", &measured_update_bindings),
                update_df64: Kernel::new(device, &update, "update", &update_bindings, &df64),
                update_df64_measured: Kernel::new(
                    device,
                    &update,
                    "update_measured",
                    &measured_update_bindings,
                    &df64,
                ),
                output_change_df64: kernel(
                    &output_df64,
                    "output_change_df64",
                    &[
                        (0, Uniform),
                        (1, Read),
                        (2, Read),
                        (3, Read),
                        (4, Read),
                        (5, ReadWrite),
                    ],
                ),
                finish_measure: kernel(
                    &update,
                    "finish_measure",
                    &[(13, Read), (14, Read), (15, ReadWrite), (16, Uniform)],
                ),
                total_from_start: kernel(
                    &update,
                    "total_from_start",
                    &[(0, Uniform), (1, ReadWrite), (10, Read), (11, ReadWrite)],
                ),
                advance_step: kernel(&update, "advance_step", &[(9, ReadWrite)]),
                store_signs: kernel(
                    &metrics,
                    "store_signs",
                    &[(0, Uniform), (1, Read), (2, ReadWrite)],
                ),
                count_same_sign: kernel(
                    &metrics,
                    "count_same_sign",
                    &[(0, Uniform), (1, Read), (3, Read), (4, ReadWrite)],
                ),
                count_same_sign_offset: kernel(
                    &metrics,
                    "count_same_sign_offset",
                    &[(0, Uniform), (1, Read), (4, ReadWrite), (12, Read)],
                ),
                count_correct: kernel(
                    &metrics,
                    "count_correct",
                    &[
                        (0, Uniform),
                        (5, Read),
                        (6, Read),
                        (7, Read),
                        (8, ReadWrite),
                    ],
                ),
                squared_distance: kernel(
                    &metrics,
                    "squared_distance",
                    &[(0, Uniform), (9, Read), (10, Read), (11, ReadWrite)],
                ),
            }
        })
    }
}

/// matmul.wgsl after matmul_shape.wgsl, which declares its uniform.
const MATMUL_PARTS: [&str; 2] = [
    include_str!("../../shaders/matmul_shape.wgsl"),
    include_str!("../../shaders/matmul.wgsl"),
];

/// matmul_tiled.wgsl after matmul_shape.wgsl, which declares its uniform.
const MATMUL_TILED_PARTS: [&str; 2] = [
    include_str!("../../shaders/matmul_shape.wgsl"),
    include_str!("../../shaders/matmul_tiled.wgsl"),
];

/// The bindings of `activate_offset` in activation.wgsl, which the engine and the
/// function checks both compile.
pub(crate) const ACTIVATE_OFFSET_BINDINGS: [(u32, Access); 8] = [
    (0, Access::Uniform),
    (1, Access::Read),
    (2, Access::ReadWrite),
    (3, Access::ReadWrite),
    (6, Access::ReadWrite),
    (7, Access::Read),
    (8, Access::Read),
    (9, Access::Read),
];

/// activation.wgsl after functions.wgsl, whose functions it calls.
pub(crate) const ACTIVATION_PARTS: [&str; 2] = [
    include_str!("../../shaders/functions.wgsl"),
    include_str!("../../shaders/activation.wgsl"),
];

/// loss.wgsl after functions.wgsl and df64.wgsl, whose functions it calls, and
/// cells.wgsl, whose structs it reads.
const LOSS_PARTS: [&str; 4] = [
    include_str!("../../shaders/functions.wgsl"),
    include_str!("../../shaders/df64.wgsl"),
    include_str!("../../shaders/cells.wgsl"),
    include_str!("../../shaders/loss.wgsl"),
];

/// update.wgsl after df64.wgsl, whose functions its df64 entry points call, and
/// cells.wgsl.
const UPDATE_PARTS: [&str; 3] = [
    include_str!("../../shaders/df64.wgsl"),
    include_str!("../../shaders/cells.wgsl"),
    include_str!("../../shaders/update.wgsl"),
];

/// output_df64.wgsl after df64.wgsl. It computes in float32 whatever `real` is.
const OUTPUT_DF64_PARTS: [&str; 2] = [
    include_str!("../../shaders/df64.wgsl"),
    include_str!("../../shaders/output_df64.wgsl"),
];

/// Joins `parts` after the file that declares `real` as `scalar`.
pub(crate) fn with_real(scalar: Scalar, parts: &[&str]) -> String {
    std::iter::once(scalar.prelude())
        .chain(parts.iter().copied())
        .collect()
}

/// Describes a WGSL module built from `source`.
pub(crate) fn wgsl(label: &'static str, source: String) -> wgpu::ShaderModuleDescriptor<'static> {
    wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    }
}

/// The matrix-product pipelines of one [`MatmulConfig`].
#[derive(Clone)]
pub(crate) struct MatmulKernel {
    /// The register or tiled kernel. With `Panels`, the register kernel, for products that
    /// the panels do not take (see `panel_plan`).
    kernel: Kernel,
    panels: Option<PanelKernels>,
    config: MatmulConfig,
    scalar: Scalar,
}

/// The two entry points of matmul_panels.wgsl and the scratch buffer of packed operands.
#[derive(Clone)]
struct PanelKernels {
    pack: Kernel,
    multiply: Kernel,
    /// Shared by every product this kernel prepares, because their dispatches run one after
    /// the other: each packs its operands and then reads them before the next one packs.
    /// A product that needs more grows it into a new buffer, and products prepared earlier
    /// keep the old one.
    scratch: Arc<Mutex<Option<Buffer>>>,
}

/// Invocations per workgroup of `multiply` in matmul_panels.wgsl, which must form one
/// subgroup: its lanes share the values of B by subgroup broadcasts.
const PANEL_LANES: u32 = 8;

/// Returns whether `gpu` runs the panel kernel: the device needs subgroup operations in
/// subgroups of exactly `PANEL_LANES` invocations, as lavapipe has on 256-bit vectors.
pub fn panels_supported(gpu: &GpuDevice) -> bool {
    gpu.features.contains(wgpu::Features::SUBGROUP)
        && gpu.info.subgroup_min_size == PANEL_LANES
        && gpu.info.subgroup_max_size == PANEL_LANES
}

/// Floats in one uniform-buffer window of matmul_panels.wgsl (64 KiB, the largest uniform
/// binding that wgpu guarantees).
const WINDOW_FLOATS: u32 = 16384;
/// Windows of each operand bound to one `multiply` dispatch, fixed in matmul_panels.wgsl too.
const PANEL_WINDOWS: u32 = 5;
/// Largest rows of A or columns of B per panel, so one `multiply` dispatch computes at most
/// a 128 x 128 tile of C, in 2 x 2 workgroups.
const PANEL_WIDTH: u32 = 128;

/// The uniform of `pack` in matmul_panels.wgsl, field for field.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PackUniform {
    offset: u32,
    p_stride: u32,
    d_stride: u32,
    batch_stride: u32,
    extent: u32,
    depth: u32,
    width: u32,
    window_depth: u32,
    panels: u32,
    windows: u32,
    first_window: u32,
    count: u32,
    row_invocations: u32,
    pad: [u32; 3],
}

/// The uniform of `multiply` in matmul_panels.wgsl, field for field.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct TileUniform {
    rows: u32,
    cols: u32,
    row0: u32,
    col0: u32,
    a_width: u32,
    b_width: u32,
    depth: u32,
    window_depth: u32,
    accumulate: u32,
    scale: f32,
    c_offset: u32,
    c_row: u32,
    c_col: u32,
    pad: [u32; 3],
}

/// Panel widths, window depth and window counts of one product in matmul_panels.wgsl.
#[derive(Debug, Clone, Copy)]
struct PanelPlan {
    a_width: u32,
    b_width: u32,
    /// Steps of k per window.
    window_depth: u32,
    /// Windows per panel: k / window_depth, rounded up.
    windows: u32,
    a_panels: u32,
    b_panels: u32,
    /// Windows of A in the scratch buffer. Those of B follow them.
    a_windows: u64,
    b_windows: u64,
}

impl PanelPlan {
    fn scratch_bytes(&self) -> u64 {
        (self.a_windows + self.b_windows) * u64::from(WINDOW_FLOATS) * 4
    }
}

/// Products with m, n or k below this go to the register kernel. On lavapipe the thin
/// batched products of a training step, whose class dimension is 10, ran 1.7 to 3.8 times
/// faster there than in the panel kernel (`cargo bench --bench gpu_matmul -- batch`).
const PANEL_MIN_EXTENT: u32 = 16;

/// Plans `shape` for the panel kernel, or returns `None` for a product it does not take:
/// an empty or thin one (an extent below `PANEL_MIN_EXTENT`), or one whose packed operands
/// would not fit one storage binding.
fn panel_plan(gpu: &GpuDevice, shape: &MatmulShape) -> Option<PanelPlan> {
    if shape.batch == 0 || shape.m.min(shape.n).min(shape.k) < PANEL_MIN_EXTENT {
        return None;
    }
    let width = |extent: u32| extent.next_multiple_of(MATMUL_BLOCK).min(PANEL_WIDTH);
    let (a_width, b_width) = (width(shape.m), width(shape.n));
    // A multiple of 4, so that the shader's two steps per iteration stay in the window.
    let window_depth = (WINDOW_FLOATS / a_width.max(b_width)) / 4 * 4;
    let windows = shape.k.div_ceil(window_depth);
    let (a_panels, b_panels) = (shape.m.div_ceil(a_width), shape.n.div_ceil(b_width));
    let per_panel = u64::from(shape.batch) * u64::from(windows);
    let plan = PanelPlan {
        a_width,
        b_width,
        window_depth,
        windows,
        a_panels,
        b_panels,
        a_windows: per_panel * u64::from(a_panels),
        b_windows: per_panel * u64::from(b_panels),
    };
    let limit = gpu
        .limits
        .max_storage_buffer_binding_size
        .min(gpu.limits.max_buffer_size);
    // Element indices into the scratch buffer are u32 in the shader.
    let elements = (plan.a_windows + plan.b_windows) * u64::from(WINDOW_FLOATS);
    (plan.scratch_bytes() <= limit && elements <= u64::from(u32::MAX)).then_some(plan)
}

impl MatmulKernel {
    /// Compiles the matrix-product shaders that `config` chooses.
    pub(crate) fn new(
        gpu: &GpuDevice,
        config: MatmulConfig,
        scalar: Scalar,
    ) -> Result<Self, GpuError> {
        if config.kind == MatmulKind::Panels && !panels_supported(gpu) {
            return Err(GpuError::KernelUnsupported {
                kernel: config.to_string(),
                adapter: gpu.info.name.clone(),
                needs: "subgroup operations in subgroups of exactly 8 invocations",
            });
        }
        gpu.checked("compiling the matrix-product shader", || {
            Self::compile(&gpu.device, config, scalar)
        })
    }

    /// Compiles the shaders without an error scope, for callers that open their own.
    /// `Panels` takes float32 only.
    pub(crate) fn compile(device: &Device, config: MatmulConfig, scalar: Scalar) -> Self {
        assert!(
            scalar == Scalar::F32 || config.kind != MatmulKind::Panels,
            "the panel kernel computes in float32"
        );
        use Access::{Read, ReadWrite, Uniform};
        let bindings = [(0, Uniform), (1, Read), (2, Read), (3, ReadWrite)];
        let registers = |group_x: u32, group_y: u32| {
            let module =
                device.create_shader_module(wgsl("matmul.wgsl", with_real(scalar, &MATMUL_PARTS)));
            let constants = [("GROUP_X", group_x as f64), ("GROUP_Y", group_y as f64)];
            Kernel::new(device, &module, "matmul", &bindings, &constants)
        };
        match config.kind {
            MatmulKind::Registers => Self {
                kernel: registers(config.group_x, config.group_y),
                panels: None,
                config,
                scalar,
            },
            MatmulKind::Tiled => {
                let module = device.create_shader_module(wgsl(
                    "matmul_tiled.wgsl",
                    with_real(scalar, &MATMUL_TILED_PARTS),
                ));
                Self {
                    kernel: Kernel::new(device, &module, "matmul_tiled", &bindings, &[]),
                    panels: None,
                    config,
                    scalar,
                }
            }
            MatmulKind::Panels => {
                let module = device
                    .create_shader_module(wgpu::include_wgsl!("../../shaders/matmul_panels.wgsl"));
                let pack = Kernel::new(
                    device,
                    &module,
                    "pack",
                    &[(12, Uniform), (13, Read), (14, ReadWrite)],
                    &[],
                );
                let mut multiply_bindings = vec![(0, Uniform), (1, ReadWrite)];
                multiply_bindings.extend((2..2 + 2 * PANEL_WINDOWS).map(|b| (b, Uniform)));
                let multiply = Kernel::new(device, &module, "multiply", &multiply_bindings, &[]);
                Self {
                    kernel: registers(config.group_x, config.group_y),
                    panels: Some(PanelKernels {
                        pack,
                        multiply,
                        scratch: Arc::new(Mutex::new(None)),
                    }),
                    config,
                    scalar,
                }
            }
        }
    }

    /// Prepares C = scale A B (+ C) with A, B and C in the given buffers.
    pub(crate) fn prepare(
        &self,
        gpu: &GpuDevice,
        shape: &MatmulShape,
        a: &Buffer,
        b: &Buffer,
        c: &Buffer,
    ) -> Result<Dispatch, GpuError> {
        if let Some(panels) = &self.panels {
            if let Some(plan) = panel_plan(gpu, shape) {
                return panels.prepare(gpu, &plan, shape, a, b, c);
            }
        }
        let config = self.config;
        let groups = match config.kind {
            MatmulKind::Tiled => [
                shape.n.div_ceil(TILED_BLOCK),
                shape.m.div_ceil(TILED_BLOCK),
                shape.batch,
            ],
            // With `Panels`, the register kernel runs the products that the panels do not take.
            MatmulKind::Registers | MatmulKind::Panels => {
                let column_blocks = shape.n.div_ceil(MATMUL_BLOCK);
                let row_blocks = shape.m.div_ceil(MATMUL_BLOCK);
                [
                    column_blocks.div_ceil(config.group_x),
                    row_blocks.div_ceil(config.group_y),
                    shape.batch,
                ]
            }
        };
        check_workgroups(gpu, shape, groups)?;
        let uniform = uniform_bytes(&gpu.device, &shape.uniform(self.scalar));
        Ok(self
            .kernel
            .dispatch(&gpu.device, &[&uniform, a, b, c], groups))
    }
}

/// Returns an error when `groups` exceeds the adapter's workgroups per dimension.
fn check_workgroups(
    gpu: &GpuDevice,
    shape: &MatmulShape,
    groups: [u32; 3],
) -> Result<(), GpuError> {
    let max = gpu.limits.max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > max) {
        return Err(GpuError::Validation {
            operation: "planning a matrix product".into(),
            message: format!(
                "{}x{}x{} (batch {}) needs {groups:?} workgroups, more than {max} along one axis",
                shape.m, shape.k, shape.n, shape.batch
            ),
        });
    }
    Ok(())
}

impl PanelKernels {
    /// Returns the scratch buffer, replaced by a larger one when it has fewer than `bytes`.
    fn scratch(&self, device: &Device, bytes: u64) -> Buffer {
        let mut scratch = self
            .scratch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(buffer) = scratch.as_ref().filter(|buffer| buffer.size() >= bytes) {
            return buffer.clone();
        }
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("packed matrix-product operands"),
            size: bytes,
            usage: BufferUsages::STORAGE | BufferUsages::UNIFORM,
            mapped_at_creation: false,
        });
        *scratch = Some(buffer.clone());
        buffer
    }

    /// Prepares the two `pack` dispatches and one `multiply` dispatch per tile of C and
    /// group of PANEL_WINDOWS windows of k.
    ///
    /// NOTE: each `multiply` dispatch has its own bind group, so an engine that prepares
    /// every chunk of a large run keeps thousands of them. Their memory and the cost of
    /// recording them have not been measured.
    fn prepare(
        &self,
        gpu: &GpuDevice,
        plan: &PanelPlan,
        shape: &MatmulShape,
        a: &Buffer,
        b: &Buffer,
        c: &Buffer,
    ) -> Result<Dispatch, GpuError> {
        let device = &gpu.device;
        let scratch = self.scratch(device, plan.scratch_bytes());
        let mut pack_a = self.pack(gpu, plan, shape, PackedOperand::A, a, &scratch)?;
        let mut steps = vec![self.pack(gpu, plan, shape, PackedOperand::B, b, &scratch)?];

        // One uniform buffer contains every tile's parameters, each at an aligned offset.
        let stride = (std::mem::size_of::<TileUniform>() as u64)
            .next_multiple_of(u64::from(gpu.limits.min_uniform_buffer_offset_alignment));
        let passes = plan.windows.div_ceil(PANEL_WINDOWS);
        let mut tiles = Vec::new();
        for batch in 0..shape.batch {
            for row_panel in 0..plan.a_panels {
                for col_panel in 0..plan.b_panels {
                    for pass in 0..passes {
                        tiles.push((batch, row_panel, col_panel, pass));
                    }
                }
            }
        }
        let mut params = vec![0u8; tiles.len() * stride as usize];
        for (index, &(batch, row_panel, col_panel, pass)) in tiles.iter().enumerate() {
            let row0 = row_panel * plan.a_width;
            let col0 = col_panel * plan.b_width;
            let k0 = pass * PANEL_WINDOWS * plan.window_depth;
            let tile = TileUniform {
                rows: plan.a_width.min(shape.m - row0),
                cols: plan.b_width.min(shape.n - col0),
                row0,
                col0,
                a_width: plan.a_width,
                b_width: plan.b_width,
                depth: (PANEL_WINDOWS * plan.window_depth).min(shape.k - k0),
                window_depth: plan.window_depth,
                accumulate: u32::from(shape.accumulate || pass > 0),
                scale: shape.scale as f32,
                c_offset: shape.c.offset + batch * shape.c.batch_stride,
                c_row: shape.c.row_stride,
                c_col: shape.c.col_stride,
                pad: [0; 3],
            };
            let at = index * stride as usize;
            params[at..at + std::mem::size_of::<TileUniform>()]
                .copy_from_slice(bytemuck::bytes_of(&tile));
        }
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("matrix-product tiles"),
            contents: &params,
            usage: BufferUsages::UNIFORM,
        });

        let window_bytes = u64::from(WINDOW_FLOATS) * 4;
        let window = |index: u64| {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &scratch,
                offset: index * window_bytes,
                size: wgpu::BufferSize::new(window_bytes),
            })
        };
        for (index, &(batch, row_panel, col_panel, pass)) in tiles.iter().enumerate() {
            let windows = u64::from(plan.windows);
            let a_first =
                (u64::from(batch) * u64::from(plan.a_panels) + u64::from(row_panel)) * windows;
            let b_first = plan.a_windows
                + (u64::from(batch) * u64::from(plan.b_panels) + u64::from(col_panel)) * windows;
            let mut entries = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &params,
                        offset: index as u64 * stride,
                        size: wgpu::BufferSize::new(std::mem::size_of::<TileUniform>() as u64),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: c.as_entire_binding(),
                },
            ];
            // Windows past the panel's last are bound to its first, because every binding
            // needs a buffer. The shader reads none of their steps.
            for w in 0..u64::from(PANEL_WINDOWS) {
                let local = u64::from(pass * PANEL_WINDOWS) + w;
                let local = if local < windows { local } else { 0 };
                entries.push(wgpu::BindGroupEntry {
                    binding: 2 + w as u32,
                    resource: window(a_first + local),
                });
                entries.push(wgpu::BindGroupEntry {
                    binding: 2 + PANEL_WINDOWS + w as u32,
                    resource: window(b_first + local),
                });
            }
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &self.multiply.layout,
                entries: &entries,
            });
            let rows = plan.a_width.min(shape.m - row_panel * plan.a_width);
            let cols = plan.b_width.min(shape.n - col_panel * plan.b_width);
            // One workgroup computes PANEL_LANES blocks of rows and one block of columns.
            let groups = [
                cols.div_ceil(MATMUL_BLOCK),
                rows.div_ceil(PANEL_LANES * MATMUL_BLOCK),
                1,
            ];
            steps.push(Dispatch {
                name: self.multiply.name,
                pipeline: self.multiply.pipeline.clone(),
                bind_group,
                groups,
                then: Vec::new(),
            });
        }
        pack_a.then = steps;
        // The chain is one matrix product, timed and named as one.
        pack_a.name = "matmul_panels";
        Ok(pack_a)
    }

    /// Prepares the `pack` dispatch that copies A or B into its panels.
    fn pack(
        &self,
        gpu: &GpuDevice,
        plan: &PanelPlan,
        shape: &MatmulShape,
        operand: PackedOperand,
        source: &Buffer,
        scratch: &Buffer,
    ) -> Result<Dispatch, GpuError> {
        // Element (p, d): p is the row of A or the column of B, d the step of k.
        let (layout, p_stride, d_stride, extent, width, panels, first_window, windows) =
            match operand {
                PackedOperand::A => (
                    shape.a,
                    shape.a.row_stride,
                    shape.a.col_stride,
                    shape.m,
                    plan.a_width,
                    plan.a_panels,
                    0,
                    plan.a_windows,
                ),
                PackedOperand::B => (
                    shape.b,
                    shape.b.col_stride,
                    shape.b.row_stride,
                    shape.n,
                    plan.b_width,
                    plan.b_panels,
                    plan.a_windows,
                    plan.b_windows,
                ),
            };
        let count = windows * u64::from(plan.window_depth) * u64::from(width);
        // `pack` handles one element per invocation.
        let groups = element_groups(count as usize, u32::MAX);
        check_workgroups(gpu, shape, groups)?;
        let uniform = PackUniform {
            offset: layout.offset,
            p_stride,
            d_stride,
            batch_stride: layout.batch_stride,
            extent,
            depth: shape.k,
            width,
            window_depth: plan.window_depth,
            panels,
            windows: plan.windows,
            first_window: first_window as u32,
            count: count as u32,
            row_invocations: groups[0] * GROUP,
            pad: [0; 3],
        };
        let uniform = uniform_buffer(&gpu.device, &uniform);
        Ok(self
            .pack
            .dispatch(&gpu.device, &[&uniform, source, scratch], groups))
    }
}

/// The operand that one `pack` dispatch copies.
#[derive(Clone, Copy)]
enum PackedOperand {
    A,
    B,
}

/// Returns the workgroups of a one-dimensional kernel over `count` elements: one
/// invocation per element, but at most `cap` workgroups, whose invocations then loop over
/// the remaining elements. The workgroups are spread over x and y so that neither exceeds
/// the 65535 per dimension that every adapter allows.
pub(crate) fn element_groups(count: usize, cap: u32) -> [u32; 3] {
    const MAX_X: usize = 32768;
    let groups = count.div_ceil(GROUP as usize).min(cap.max(1) as usize);
    let x = groups.min(MAX_X);
    let y = if x == 0 { 0 } else { groups.div_ceil(x) };
    [x as u32, y as u32, 1]
}

/// Workgroups per elementwise dispatch on a CPU-hosted adapter, which the parameter
/// update shares out among the cells. On lavapipe an update of 630,000 parameters in one
/// flat dispatch took 4.0-4.1% of a training step in 9,800 workgroups of 64, 3.7% in 512
/// and 3.2-3.3% in 64, whose invocations loop over about 150 elements each.
const CPU_ELEMENTWISE_GROUPS: u32 = 64;

/// Returns the most workgroups an elementwise dispatch uses on `gpu`'s adapter: a few on a
/// CPU-hosted one, and on a GPU as many as there are blocks of 64 elements.
pub(crate) fn elementwise_group_cap(gpu: &GpuDevice) -> u32 {
    if gpu.is_cpu_adapter() {
        CPU_ELEMENTWISE_GROUPS
    } else {
        u32::MAX
    }
}

pub(crate) fn uniform_buffer<T: Pod>(device: &Device, value: &T) -> Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::bytes_of(value),
        usage: BufferUsages::UNIFORM,
    })
}

/// Creates a uniform buffer holding `bytes`, padded to a multiple of 16 bytes.
pub(crate) fn uniform_bytes(device: &Device, bytes: &[u8]) -> Buffer {
    let mut contents = bytes.to_vec();
    contents.resize(contents.len().next_multiple_of(16).max(16), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &contents,
        usage: BufferUsages::UNIFORM,
    })
}

/// Creates a storage buffer holding `values`. Empty inputs get one zero element, because
/// a binding cannot be empty.
pub(crate) fn storage_buffer<T: Pod>(device: &Device, label: &str, values: &[T]) -> Buffer {
    let contents: &[u8] = bytemuck::cast_slice(values);
    let padding = [0u8; 16];
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: if contents.is_empty() {
            &padding
        } else {
            contents
        },
        usage: BufferUsages::STORAGE | BufferUsages::COPY_SRC | BufferUsages::COPY_DST,
    })
}

/// Creates a zeroed storage buffer of `elements` 4-byte values (at least one).
pub(crate) fn zeroed_buffer(device: &Device, label: &str, elements: usize) -> Buffer {
    zeroed_bytes(device, label, 4 * elements as u64)
}

/// Creates a zeroed storage buffer of `elements` values of `scalar` (at least one).
pub(crate) fn zeroed_reals(
    device: &Device,
    label: &str,
    elements: usize,
    scalar: Scalar,
) -> Buffer {
    zeroed_bytes(device, label, scalar.bytes() * elements as u64)
}

/// Creates a zeroed storage buffer of `bytes` bytes, or of 16 when `bytes` is 0.
fn zeroed_bytes(device: &Device, label: &str, bytes: u64) -> Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: if bytes == 0 { 16 } else { bytes },
        usage: BufferUsages::STORAGE | BufferUsages::COPY_SRC | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Copies `buffer` to the host and returns its contents as `T`s. Blocks until the GPU has
/// finished every submitted command.
pub(crate) fn read_buffer<T: Pod>(
    gpu: &GpuDevice,
    buffer: &Buffer,
    what: &str,
) -> Result<Vec<T>, GpuError> {
    let size = buffer.size();
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
    gpu.queue.submit([encoder.finish()]);

    let (sender, receiver) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    let operation = format!("reading back {what}");
    gpu.wait(&operation)?;
    receiver
        .recv()
        .map_err(|err| GpuError::Wait {
            operation: operation.clone(),
            message: err.to_string(),
        })?
        .map_err(|err| GpuError::Wait {
            operation: operation.clone(),
            message: err.to_string(),
        })?;
    let view = staging.get_mapped_range(..).map_err(|err| GpuError::Wait {
        operation: operation.clone(),
        message: err.to_string(),
    })?;
    let values = bytemuck::cast_slice::<u8, T>(&view).to_vec();
    drop(view);
    staging.unmap();
    Ok(values)
}
