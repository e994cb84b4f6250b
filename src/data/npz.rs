//! Reader and writer for NumPy `.npy` arrays and `.npz` archives.
//!
//! An `.npz` file is a zip archive with one `<name>.npy` entry per array, stored or
//! deflated. A `.npy` file starts with the magic `\x93NUMPY`, a major and a minor version
//! byte, and the header length (u16 little-endian in version 1.0, u32 in versions 2.0 and
//! 3.0). The header is a Python dict literal with the keys `descr`, `fortran_order` and
//! `shape`, and the raw array data follows it.
//!
//! The reader supports little-endian numeric dtypes in C order. The dataset loader
//! accepts u8, f32 and f64 images and integer labels.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use zip::ZipArchive;
use zip::write::SimpleFileOptions;

use super::files::{read_error, sha256_hex};
use super::{DataError, Pixels, RawDataset, SourceFile, Split};

const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The dtypes the reader accepts, all little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

const SUPPORTED_DTYPES: &str = "supported dtypes are little-endian u1, u2, u4, u8, i1, i2, i4, \
     i8, f4 and f8 (uint8..uint64, int8..int64, float32, float64)";

impl Dtype {
    /// Parses a NumPy `descr` string such as `<f8` or `|u1`.
    fn from_descr(descr: &str) -> Option<Dtype> {
        let dtype = match descr {
            "|u1" | "<u1" => Dtype::U8,
            "|i1" | "<i1" => Dtype::I8,
            "<u2" => Dtype::U16,
            "<u4" => Dtype::U32,
            "<u8" => Dtype::U64,
            "<i2" => Dtype::I16,
            "<i4" => Dtype::I32,
            "<i8" => Dtype::I64,
            "<f4" => Dtype::F32,
            "<f8" => Dtype::F64,
            _ => return None,
        };
        Some(dtype)
    }

    fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::I8 => "|i1",
            Dtype::U16 => "<u2",
            Dtype::U32 => "<u4",
            Dtype::U64 => "<u8",
            Dtype::I16 => "<i2",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// Size of one element in bytes.
    pub fn item_size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    fn is_integer(self) -> bool {
        !matches!(self, Dtype::F32 | Dtype::F64)
    }
}

/// One array read from a `.npy` file, with its data as raw little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl NpyArray {
    /// Number of elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts the elements to f64. Values of i64 and u64 beyond 2^53 lose precision.
    pub fn to_f64(&self) -> Vec<f64> {
        let size = self.dtype.item_size();
        self.data
            .chunks_exact(size)
            .map(|chunk| element_to_f64(self.dtype, chunk))
            .collect()
    }

    /// Converts the elements to i128, or returns None for a float dtype.
    fn to_i128(&self) -> Option<Vec<i128>> {
        if !self.dtype.is_integer() {
            return None;
        }
        let size = self.dtype.item_size();
        let values = self
            .data
            .chunks_exact(size)
            .map(|chunk| element_to_i128(self.dtype, chunk))
            .collect();
        Some(values)
    }
}

fn element_to_f64(dtype: Dtype, chunk: &[u8]) -> f64 {
    match dtype {
        Dtype::F32 => f64::from(f32::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::F64 => f64::from_le_bytes(chunk.try_into().unwrap()),
        _ => element_to_i128(dtype, chunk) as f64,
    }
}

fn element_to_i128(dtype: Dtype, chunk: &[u8]) -> i128 {
    match dtype {
        Dtype::U8 => i128::from(chunk[0]),
        Dtype::I8 => i128::from(chunk[0] as i8),
        Dtype::U16 => i128::from(u16::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::I16 => i128::from(i16::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::U32 => i128::from(u32::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::I32 => i128::from(i32::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::U64 => i128::from(u64::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::I64 => i128::from(i64::from_le_bytes(chunk.try_into().unwrap())),
        Dtype::F32 | Dtype::F64 => unreachable!("float dtypes are not converted to integers"),
    }
}

// ---------------------------------------------------------------------------------------
// .npy parsing

/// Parses the bytes of one `.npy` file. `file` names the source in error messages.
pub fn parse_npy(bytes: &[u8], file: &str) -> Result<NpyArray, DataError> {
    let header_error = |reason: String| DataError::InvalidNpyHeader {
        file: file.to_string(),
        reason,
    };

    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(header_error(
            "missing the \\x93NUMPY magic string".to_string(),
        ));
    }

    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(header_error("header length field is cut off".to_string()));
            }
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        _ => {
            return Err(header_error(format!(
                "format version {major}.{} is not supported (expected 1.0, 2.0 or 3.0)",
                bytes[7]
            )));
        }
    };

    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected: data_start as u64,
            actual: bytes.len() as u64,
        });
    }

    // Version 3.0 allows UTF-8 in the header. Field names and dtype codes are ASCII.
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| header_error("header is not valid UTF-8".to_string()))?;
    let fields = parse_header(header).map_err(header_error)?;

    let dtype = Dtype::from_descr(&fields.descr).ok_or_else(|| DataError::UnsupportedDtype {
        file: file.to_string(),
        dtype: fields.descr.clone(),
        supported: SUPPORTED_DTYPES,
    })?;

    // A Fortran-ordered array with at most one dimension above 1 has the same layout as
    // in C order, but NumPy only writes fortran_order=True for arrays of 2+ dimensions.
    if fields.fortran_order {
        return Err(DataError::FortranOrder {
            file: file.to_string(),
        });
    }

    let element_count = checked_product(&fields.shape).ok_or_else(|| {
        header_error(format!(
            "shape {:?} overflows the address space",
            fields.shape
        ))
    })?;
    let expected = element_count as u128 * dtype.item_size() as u128 + data_start as u128;
    let actual = bytes.len() as u128;
    if actual < expected {
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected: expected as u64,
            actual: actual as u64,
        });
    }
    if actual > expected {
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            expected: expected as u64,
            extra: (actual - expected) as u64,
        });
    }

    Ok(NpyArray {
        dtype,
        shape: fields.shape,
        data: bytes[data_start..].to_vec(),
    })
}

fn checked_product(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
}

/// The three fields of a `.npy` header.
#[derive(Debug, PartialEq)]
struct HeaderFields {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value in the Python literal subset that `.npy` headers use.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Int(i128),
    None,
    Sequence(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
    /// Renders the value roughly as Python would, for error messages.
    fn render(&self) -> String {
        match self {
            Literal::Str(s) => format!("'{s}'"),
            Literal::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Literal::Int(i) => i.to_string(),
            Literal::None => "None".to_string(),
            Literal::Sequence(items) => {
                let parts: Vec<String> = items.iter().map(Literal::render).collect();
                format!("[{}]", parts.join(", "))
            }
            Literal::Dict(_) => "{...}".to_string(),
        }
    }
}

fn parse_header(header: &str) -> Result<HeaderFields, String> {
    let mut parser = LiteralParser {
        chars: header.chars().collect(),
        pos: 0,
    };
    let value = parser.parse_value()?;
    parser.skip_whitespace();
    if parser.pos != parser.chars.len() {
        return Err(format!(
            "unexpected text after the dict at character {}",
            parser.pos
        ));
    }

    let Literal::Dict(entries) = value else {
        return Err("header is not a dict".to_string());
    };

    let lookup = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| *k == Literal::Str(key.to_string()))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("key '{key}' is missing"))
    };

    // A structured dtype arrives as a list, which is rendered so the caller can report it.
    let descr = match lookup("descr")? {
        Literal::Str(s) => s,
        other => other.render(),
    };

    let fortran_order = match lookup("fortran_order")? {
        Literal::Bool(b) => b,
        other => {
            return Err(format!(
                "fortran_order is {}, expected True or False",
                other.render()
            ));
        }
    };

    let shape = match lookup("shape")? {
        Literal::Sequence(items) => items
            .iter()
            .map(|item| match item {
                Literal::Int(n) => {
                    usize::try_from(*n).map_err(|_| format!("invalid dimension {n}"))
                }
                other => Err(format!("invalid dimension {}", other.render())),
            })
            .collect::<Result<Vec<usize>, String>>()?,
        other => return Err(format!("shape is {}, expected a tuple", other.render())),
    };

    Ok(HeaderFields {
        descr,
        fortran_order,
        shape,
    })
}

struct LiteralParser {
    chars: Vec<char>,
    pos: usize,
}

impl LiteralParser {
    fn skip_whitespace(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_whitespace();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, expected: char) -> Result<(), String> {
        match self.peek() {
            Some(c) if c == expected => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(format!(
                "expected '{expected}' at character {}, found '{c}'",
                self.pos
            )),
            None => Err(format!(
                "expected '{expected}', found the end of the header"
            )),
        }
    }

    fn parse_value(&mut self) -> Result<Literal, String> {
        match self.peek() {
            Some('{') => self.parse_dict(),
            Some('(') => self.parse_sequence('(', ')'),
            Some('[') => self.parse_sequence('[', ']'),
            Some(quote @ ('\'' | '"')) => self.parse_string(quote),
            Some(c) if c.is_ascii_digit() || c == '-' => self.parse_int(),
            Some(c) if c.is_alphabetic() => self.parse_word(),
            Some(c) => Err(format!("unexpected character '{c}' at {}", self.pos)),
            None => Err("header ends before a value".to_string()),
        }
    }

    fn parse_dict(&mut self) -> Result<Literal, String> {
        self.expect('{')?;
        let mut entries = Vec::new();
        loop {
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.parse_value()?;
            self.expect(':')?;
            let value = self.parse_value()?;
            entries.push((key, value));

            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(format!("expected ',' or '}}' at character {}", self.pos)),
            }
        }
    }

    fn parse_sequence(&mut self, open: char, close: char) -> Result<Literal, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Literal::Sequence(items));
            }
            items.push(self.parse_value()?);

            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(format!(
                        "expected ',' or '{close}' at character {}",
                        self.pos
                    ));
                }
            }
        }
    }

    fn parse_string(&mut self, quote: char) -> Result<Literal, String> {
        self.expect(quote)?;
        let start = self.pos;
        while self.pos < self.chars.len() && self.chars[self.pos] != quote {
            self.pos += 1;
        }
        if self.pos == self.chars.len() {
            return Err("unterminated string".to_string());
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        Ok(Literal::Str(text))
    }

    fn parse_int(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        if self.chars[self.pos] == '-' {
            self.pos += 1;
        }
        while self.pos < self.chars.len() && self.chars[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();

        // Headers written by Python 2 may mark long integers with an `L` suffix.
        if self.chars.get(self.pos) == Some(&'L') {
            self.pos += 1;
        }

        text.parse::<i128>()
            .map(Literal::Int)
            .map_err(|_| format!("invalid integer '{text}'"))
    }

    fn parse_word(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        while self.pos < self.chars.len() && self.chars[self.pos].is_alphanumeric() {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Ok(Literal::Bool(true)),
            "False" => Ok(Literal::Bool(false)),
            "None" => Ok(Literal::None),
            _ => Err(format!("unexpected word '{word}'")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// .npy encoding

/// Encodes a C-ordered array as a `.npy` file. `data` contains the little-endian elements.
fn encode_npy(dtype: Dtype, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [single] => format!("({single},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        dtype.descr()
    );

    // NumPy pads the header with spaces and a final newline so that the data starts at
    // a multiple of 64 bytes. Version 1.0 stores the header length as u16.
    let unpadded_v1 = NPY_MAGIC.len() + 2 + 2 + header.len() + 1;
    let use_v1 = unpadded_v1.next_multiple_of(64) - 10 <= usize::from(u16::MAX);
    let prefix_len = if use_v1 { 10 } else { 12 };
    let total = (prefix_len + header.len() + 1).next_multiple_of(64);
    header.push_str(&" ".repeat(total - prefix_len - header.len() - 1));
    header.push('\n');

    let mut out = Vec::with_capacity(total + data.len());
    out.extend_from_slice(NPY_MAGIC);
    if use_v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

// ---------------------------------------------------------------------------------------
// .npz archives

/// Array data to write into an `.npz` archive.
#[derive(Debug, Clone, Copy)]
pub enum NpzData<'a> {
    U8(&'a [u8]),
    F64(&'a [f64]),
}

impl NpzData<'_> {
    fn len(&self) -> usize {
        match self {
            NpzData::U8(values) => values.len(),
            NpzData::F64(values) => values.len(),
        }
    }
}

/// One named array to write into an `.npz` archive.
#[derive(Debug, Clone, Copy)]
pub struct NpzEntry<'a> {
    /// Array name, stored as the zip entry `<name>.npy`.
    pub name: &'a str,
    pub data: NpzData<'a>,
    /// Shape in C order. Its product must equal the data length.
    pub shape: &'a [usize],
}

/// Writes arrays into an `.npz` archive at `path`, replacing any existing file.
///
/// With `compress` the entries are deflated (like `numpy.savez_compressed`), otherwise
/// stored (like `numpy.savez`). Entry timestamps are fixed at 1980-01-01, so equal input
/// gives an equal file.
pub fn write_npz(path: &Path, entries: &[NpzEntry], compress: bool) -> Result<(), DataError> {
    let file_name = path.display().to_string();

    for entry in entries {
        let expected: usize = entry.shape.iter().product();
        if entry.data.len() != expected {
            return Err(DataError::ArrayLength {
                file: file_name,
                array: entry.name.to_string(),
                shape: entry.shape.to_vec(),
                len: entry.data.len(),
                expected,
            });
        }
    }

    let write_error = |source: std::io::Error| DataError::Write {
        file: file_name.clone(),
        source,
    };
    let zip_error = |source: zip::result::ZipError| DataError::NpzWrite {
        file: file_name.clone(),
        source,
    };

    let file = File::create(path).map_err(write_error)?;
    let mut archive = zip::ZipWriter::new(BufWriter::new(file));
    let method = if compress {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };

    for entry in entries {
        let encoded = match entry.data {
            NpzData::U8(values) => encode_npy(Dtype::U8, entry.shape, values),
            NpzData::F64(values) => {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                encode_npy(Dtype::F64, entry.shape, &bytes)
            }
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(zip::DateTime::default())
            .large_file(encoded.len() as u64 >= u64::from(u32::MAX));

        archive
            .start_file(format!("{}.npy", entry.name), options)
            .map_err(zip_error)?;
        archive.write_all(&encoded).map_err(write_error)?;
    }

    let mut writer = archive.finish().map_err(zip_error)?;
    writer.flush().map_err(write_error)?;
    Ok(())
}

/// Writes float64 arrays, given as (name, values, shape), into an uncompressed `.npz`.
pub fn write_npz_f64(path: &Path, arrays: &[(&str, &[f64], &[usize])]) -> Result<(), DataError> {
    let entries: Vec<NpzEntry> = arrays
        .iter()
        .map(|&(name, values, shape)| NpzEntry {
            name,
            data: NpzData::F64(values),
            shape,
        })
        .collect();
    write_npz(path, &entries, false)
}

/// Reads array `name` from the `.npz` at `path` and returns its values as f64 with its
/// shape. Accepts every dtype that [`Dtype`] lists. Integers beyond 2^53 lose precision.
pub fn read_npz_f64(path: &Path, name: &str) -> Result<(Vec<f64>, Vec<usize>), DataError> {
    let (bytes, _) = read_file_with_record(path)?;
    let mut archive = NpzArchive::new(bytes, path)?;
    let array = archive.array(name)?;
    Ok((array.to_f64(), array.shape))
}

/// Reads a file and returns its bytes with its size and SHA-256 record.
fn read_file_with_record(path: &Path) -> Result<(Vec<u8>, SourceFile), DataError> {
    let bytes = std::fs::read(path).map_err(|source| read_error(path, source))?;
    let record = SourceFile {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    Ok((bytes, record))
}

/// An opened `.npz` archive held in memory.
pub struct NpzArchive {
    archive: ZipArchive<std::io::Cursor<Vec<u8>>>,
    file: String,
}

impl NpzArchive {
    /// Opens the archive from its bytes. `path` names it in error messages.
    pub fn new(bytes: Vec<u8>, path: &Path) -> Result<NpzArchive, DataError> {
        let file = path.display().to_string();
        let archive = ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|source| {
            DataError::InvalidNpz {
                file: file.clone(),
                source,
            }
        })?;
        Ok(NpzArchive { archive, file })
    }

    /// Names of the arrays in the archive (entry names without `.npy`), sorted.
    pub fn array_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .archive
            .file_names()
            .map(|name| name.strip_suffix(".npy").unwrap_or(name).to_string())
            .collect();
        names.sort();
        names
    }

    /// Reads and parses the array `name`.
    pub fn array(&mut self, name: &str) -> Result<NpyArray, DataError> {
        let entry_file = format!("{} ({name})", self.file);
        let mut bytes = Vec::new();

        let Some(index) = self.archive.index_for_name(&format!("{name}.npy")) else {
            return Err(DataError::MissingArray {
                file: self.file.clone(),
                array: name.to_string(),
                present: self.array_names(),
            });
        };

        let mut entry = self
            .archive
            .by_index(index)
            .map_err(|source| DataError::InvalidNpz {
                file: entry_file.clone(),
                source,
            })?;
        entry
            .read_to_end(&mut bytes)
            .map_err(|source| DataError::Read {
                file: entry_file.clone(),
                source,
            })?;
        drop(entry);

        parse_npy(&bytes, &entry_file)
    }
}

/// Loads a custom dataset from an `.npz` containing `x_train`, `y_train`, `x_test` and
/// `y_test`.
pub(crate) fn load_npz_dataset(path: &Path, name: String) -> Result<RawDataset, DataError> {
    let (bytes, record) = read_file_with_record(path)?;
    let mut archive = NpzArchive::new(bytes, path)?;

    let train = read_npz_split(&mut archive, "x_train", "y_train")?;
    let test = read_npz_split(&mut archive, "x_test", "y_test")?;

    super::check_same_shape(&train, &test, &format!("{} (x_test)", path.display()))?;

    Ok(RawDataset {
        name,
        train,
        test,
        files: vec![record],
    })
}

fn read_npz_split(
    archive: &mut NpzArchive,
    x_name: &str,
    y_name: &str,
) -> Result<Split, DataError> {
    let x_file = format!("{} ({x_name})", archive.file);
    let y_file = format!("{} ({y_name})", archive.file);
    let x = archive.array(x_name)?;
    let y = archive.array(y_name)?;

    if x.shape.len() < 2 {
        return Err(DataError::UnsupportedShape {
            file: x_file,
            shape: x.shape,
            reason: "images need at least 2 dimensions: the sample count, then the sample shape"
                .to_string(),
        });
    }
    let sample_shape = x.shape[1..].to_vec();
    if sample_shape.contains(&0) {
        return Err(DataError::UnsupportedShape {
            file: x_file,
            shape: x.shape,
            reason: "every sample dimension must be at least 1".to_string(),
        });
    }

    let images = match x.dtype {
        Dtype::U8 => Pixels::U8(x.data),
        Dtype::F32 => Pixels::F32(
            x.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        Dtype::F64 => Pixels::F64(
            x.data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        other => {
            return Err(DataError::UnsupportedDtype {
                file: x_file,
                dtype: other.descr().to_string(),
                supported: "images must be uint8 (u1), float32 (f4) or float64 (f8)",
            });
        }
    };

    if y.shape.len() != 1 {
        return Err(DataError::UnsupportedShape {
            file: y_file,
            shape: y.shape,
            reason: "labels must be a 1-d array".to_string(),
        });
    }
    let Some(label_values) = y.to_i128() else {
        return Err(DataError::UnsupportedDtype {
            file: y_file,
            dtype: y.dtype.descr().to_string(),
            supported: "labels must have an integer dtype",
        });
    };
    let labels = labels_to_u8(&label_values, &y_file)?;

    if labels.len() != x.shape[0] {
        return Err(DataError::CountMismatch {
            images_file: x_file,
            images: x.shape[0],
            labels_file: y_file,
            labels: labels.len(),
        });
    }

    Ok(Split {
        images,
        labels,
        sample_shape,
    })
}

fn labels_to_u8(values: &[i128], file: &str) -> Result<Vec<u8>, DataError> {
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            if (0..=9).contains(&value) {
                Ok(value as u8)
            } else {
                Err(DataError::LabelOutOfRange {
                    file: file.to_string(),
                    index,
                    value,
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replaces the first occurrence of `from` with `to`, which must have the same length.
    fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let start = bytes.windows(from.len()).position(|w| w == from).unwrap();
        let mut out = bytes.to_vec();
        out[start..start + to.len()].copy_from_slice(to);
        out
    }

    #[test]
    fn header_parses_numpy_layout() {
        let fields =
            parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n")
                .unwrap();
        assert_eq!(fields.descr, "<f8");
        assert!(!fields.fortran_order);
        assert_eq!(fields.shape, [3, 4]);
    }

    #[test]
    fn header_parses_scalar_and_1d_shapes() {
        let scalar = parse_header("{'descr': '|u1', 'fortran_order': False, 'shape': ()}").unwrap();
        assert!(scalar.shape.is_empty());

        let vector =
            parse_header("{\"shape\": (7L,), \"fortran_order\": True, \"descr\": \"<i8\"}")
                .unwrap();
        assert_eq!(vector.shape, [7]);
        assert!(vector.fortran_order);
    }

    #[test]
    fn header_renders_structured_descr() {
        let fields =
            parse_header("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,)}")
                .unwrap();
        assert_eq!(fields.descr, "[['a', '<i4']]");
    }

    #[test]
    fn header_missing_shape_is_error() {
        let err = parse_header("{'descr': '<f8', 'fortran_order': False}").unwrap_err();
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn npy_round_trip_aligns_data() {
        let data: Vec<u8> = (0..6).collect();
        let encoded = encode_npy(Dtype::U8, &[2, 3], &data);
        assert_eq!((encoded.len() - data.len()) % 64, 0);

        let parsed = parse_npy(&encoded, "t").unwrap();
        assert_eq!(parsed.dtype, Dtype::U8);
        assert_eq!(parsed.shape, [2, 3]);
        assert_eq!(parsed.data, data);
    }

    #[test]
    fn npy_version_2_header() {
        let header = b"{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }\n";
        let mut bytes = NPY_MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&(-3i16).to_le_bytes());
        bytes.extend_from_slice(&9i16.to_le_bytes());

        let parsed = parse_npy(&bytes, "t").unwrap();
        assert_eq!(parsed.to_i128().unwrap(), [-3, 9]);
    }

    #[test]
    fn npy_rejects_big_endian() {
        let encoded = encode_npy(Dtype::F64, &[1], &[0; 8]);
        let patched = replace_bytes(&encoded, b"<f8", b">f8");
        let err = parse_npy(&patched, "t").unwrap_err();
        assert!(matches!(err, DataError::UnsupportedDtype { ref dtype, .. } if dtype == ">f8"));
    }

    #[test]
    fn npy_rejects_fortran_order() {
        let encoded = encode_npy(Dtype::U8, &[2, 2], &[0; 4]);
        let patched = replace_bytes(&encoded, b"False", b"True ");
        let err = parse_npy(&patched, "t").unwrap_err();
        assert!(matches!(err, DataError::FortranOrder { .. }), "{err}");
    }

    #[test]
    fn npy_rejects_short_data() {
        let encoded = encode_npy(Dtype::F64, &[2], &[0; 16]);
        let err = parse_npy(&encoded[..encoded.len() - 3], "t").unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    }
}
