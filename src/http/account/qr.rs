//! The enrolment's QR code as inline SVG, rendered here so the page needs no script and no
//! request elsewhere (the URI carries the secret).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use zeroize::Zeroizing;

/// The SVG element (without the XML declaration, for inline HTML), or `None` if the text
/// does not fit a QR code (an `otpauth` URI is about 150 bytes; the limit is near 2,300).
pub fn svg(text: &str) -> Option<Zeroizing<String>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = Zeroizing::new(
        code.render::<svg::Color>()
            .min_dimensions(220, 220)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .build(),
    );
    let start = image.find("<svg")?;
    Some(Zeroizing::new(image[start..].to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_uri_becomes_one_svg_element() {
        let svg = super::svg("otpauth://totp/id.example.com:alice?secret=MZXW6YTBOI").unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<script"));
    }
}
