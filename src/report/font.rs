//! The font embedded in the binary, so figures render text with nothing installed.
//!
//! plotters' `ab_glyph` text backend draws only fonts registered at run time.
//! DejaVu Sans is registered under the family name `sans-serif`, which is the
//! family that plotters' default text styles request.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

use super::ReportError;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Font file name used in error messages.
const FONT_FILE: &str = "assets/fonts/DejaVuSans.ttf";

/// Family name under which the embedded font is registered.
pub const FONT_FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters on the first call.
///
/// Later calls return the outcome of the first one without parsing the font again.
pub fn ensure_font_registered() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    // Other styles, such as bold, fall back to this normal face in plotters' font lookup.
    let ok = *REGISTERED
        .get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ReportError::Font {
            file: FONT_FILE.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers() {
        assert!(ensure_font_registered().is_ok());
        assert!(ensure_font_registered().is_ok());
    }
}
