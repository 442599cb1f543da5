//! SVG QR code for a Native-pay `code_url` (desktop flow).
//!
//! Rendering in Rust keeps one encoder for every host (no JS QR dependency in the web,
//! mini-program or uniapp bundles) and yields a self-contained `<svg>` string the page can
//! insert or turn into a data URL.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::error::{codes, BindingError};

/// Smallest rendered side in CSS pixels; scanners read 200 px reliably from a monitor.
const DEFAULT_MIN_SIZE: u32 = 200;

/// Renders `text` as an SVG QR code with medium error correction and a quiet zone.
///
/// `min_size` is the minimum side in pixels (0 selects the default). Medium (M) correction is
/// what WeChat's own cashier uses for `weixin://wxpay/bizpayurl?pr=…` links: short payloads,
/// so the extra redundancy costs little.
pub fn render_svg(text: &str, min_size: u32) -> Result<String, BindingError> {
    if text.is_empty() {
        return Err(BindingError::new(codes::PARAM_MISSING, "code_url is empty"));
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        BindingError::new(
            codes::QR_TOO_LONG,
            format!("cannot encode code_url as a QR code: {e}"),
        )
    })?;
    let side = if min_size == 0 {
        DEFAULT_MIN_SIZE
    } else {
        min_size
    };
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(side, side)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_svg_document_for_a_code_url() {
        let svg = render_svg("weixin://wxpay/bizpayurl?pr=AbCdEf1", 0).expect("svg");
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<svg"));
        assert!(svg.contains("#000000"));
    }

    #[test]
    fn different_inputs_give_different_codes() {
        let a = render_svg("weixin://wxpay/bizpayurl?pr=aaaaaaa", 0).expect("a");
        let b = render_svg("weixin://wxpay/bizpayurl?pr=bbbbbbb", 0).expect("b");
        assert_ne!(a, b);
    }

    #[test]
    fn empty_and_oversized_inputs_are_errors() {
        assert_eq!(render_svg("", 0).unwrap_err().code, codes::PARAM_MISSING);
        let huge = "x".repeat(8000);
        assert_eq!(render_svg(&huge, 0).unwrap_err().code, codes::QR_TOO_LONG);
    }
}
