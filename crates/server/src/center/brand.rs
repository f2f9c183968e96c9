//! A tenant's look in its privacy center (`[[brand]]` in the configuration): the name shown as
//! the controller's, an accent colour for links and buttons, and a logo. A colour that would
//! make text hard to read is refused when the configuration loads: links and button text must
//! reach 4.5:1 against white (WCAG 2.2, success criterion 1.4.3, contrast minimum).

use serde::Deserialize;

/// The contrast WCAG 2.2 AA asks of normal text (SC 1.4.3).
pub const MIN_CONTRAST: f64 = 4.5;

/// Largest logo accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// One `[[brand]]` entry as the configuration file holds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    /// The tenant whose center it dresses.
    pub tenant: String,
    /// The name the center shows (default: the policy's controller).
    pub name: Option<String>,
    /// `#rrggbb`: links, buttons, notes.
    pub accent: Option<String>,
    /// A PNG file shown at the top of every page of the tenant's center.
    pub logo: Option<std::path::PathBuf>,
}

/// A checked brand, ready to serve.
#[derive(Debug, Clone)]
pub struct Brand {
    /// The name shown.
    pub name: Option<String>,
    /// The accent colour, `#rrggbb`.
    pub accent: Option<String>,
    /// The logo's PNG bytes.
    pub logo: Option<Vec<u8>>,
}

/// The colour `#rrggbb` as red, green and blue.
pub fn parse_hex(s: &str) -> Option<[u8; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let at = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some([at(0)?, at(2)?, at(4)?])
}

/// The relative luminance of a colour (WCAG 2.2, definition "relative luminance").
pub fn luminance(rgb: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

/// The contrast ratio of two colours, (L1 + 0.05) / (L2 + 0.05) with L1 the lighter.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    let (hi, lo) = if x >= y { (x, y) } else { (y, x) };
    (hi + 0.05) / (lo + 0.05)
}

impl BrandConfig {
    /// Checks the entry and reads its logo; the error names the field and says why.
    pub fn load(&self) -> Result<Brand, String> {
        if let Some(a) = &self.accent {
            let rgb = parse_hex(a)
                .ok_or_else(|| format!("accent `{a}` is not a colour written #rrggbb"))?;
            let ratio = contrast(rgb, [255, 255, 255]);
            if ratio < MIN_CONTRAST {
                return Err(format!(
                    "accent {a} has a contrast of {ratio:.2}:1 against white; links and button text need at least {MIN_CONTRAST}:1 (WCAG 2.2, SC 1.4.3): choose a darker colour"
                ));
            }
        }
        let logo = match &self.logo {
            None => None,
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|e| format!("logo {}: {e}", p.display()))?;
                if bytes.len() > MAX_LOGO_BYTES {
                    return Err(format!(
                        "logo {} is {} bytes; at most {MAX_LOGO_BYTES}",
                        p.display(),
                        bytes.len()
                    ));
                }
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    return Err(format!("logo {} is not a PNG image", p.display()));
                }
                Some(bytes)
            }
        };
        if self
            .name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.len() > 120)
        {
            return Err("name must be 1 to 120 characters".into());
        }
        Ok(Brand {
            name: self.name.clone(),
            accent: self.accent.as_ref().map(|a| a.to_ascii_lowercase()),
            logo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_the_wcag_formula() {
        // Black on white is the maximum, 21:1; a colour against itself 1:1.
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        assert!((contrast([10, 20, 30], [10, 20, 30]) - 1.0).abs() < 1e-9);
        // #767676 is the lightest grey that passes 4.5:1 on white; #777777 fails.
        assert!(contrast(parse_hex("#767676").unwrap(), [255; 3]) >= MIN_CONTRAST);
        assert!(contrast(parse_hex("#777777").unwrap(), [255; 3]) < MIN_CONTRAST);
    }

    #[test]
    fn a_brand_that_would_be_hard_to_read_is_refused_with_its_ratio() {
        let b = |accent: &str| BrandConfig {
            tenant: "acme".into(),
            name: Some("Acme".into()),
            accent: Some(accent.into()),
            logo: None,
        };
        assert!(b("#0B4F9C").load().is_ok());
        let e = b("#ffcc00").load().unwrap_err();
        assert!(
            e.contains("1.") && e.contains("4.5:1") && e.contains("1.4.3"),
            "{e}"
        );
        assert!(b("blue").load().unwrap_err().contains("#rrggbb"));
        let dir = std::env::temp_dir().join(format!("custos-brand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("logo.png");
        std::fs::write(&fake, b"<svg onload=alert(1)>").unwrap();
        let with_logo = BrandConfig {
            logo: Some(fake),
            ..b("#0b4f9c")
        };
        assert!(with_logo.load().unwrap_err().contains("not a PNG"));
    }
}
