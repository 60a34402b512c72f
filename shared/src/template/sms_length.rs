//! What an SMS costs: its length in GSM-7 or UCS-2 units and segments.

use serde::Serialize;

/// How many SMS segments a text costs: GSM-7 texts fit 160 characters in one
/// segment (153 each when split); anything else is UCS-2, 70 (67 when split).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsLength {
    pub encoding: &'static str,
    /// In the encoding's units: GSM-7 extension characters count twice.
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\x0c";

pub fn sms_length(text: &str) -> SmsLength {
    let gsm = text
        .chars()
        .all(|c| GSM7_BASIC.contains(c) || GSM7_EXTENSION.contains(c));
    if gsm {
        let units: usize = text
            .chars()
            .map(|c| if GSM7_EXTENSION.contains(c) { 2 } else { 1 })
            .sum();
        let segments = if units <= 160 { 1 } else { units.div_ceil(153) };
        SmsLength {
            encoding: "GSM-7",
            units,
            segments,
        }
    } else {
        // UTF-16 code units: characters outside the BMP (emoji) take two.
        let units = text.encode_utf16().count();
        let segments = if units <= 70 { 1 } else { units.div_ceil(67) };
        SmsLength {
            encoding: "UCS-2",
            units,
            segments,
        }
    }
}

/// Longest SMS a template may render for its sample data.
pub const MAX_SMS_SEGMENTS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_segments_follow_gsm7_and_ucs2_rules() {
        assert_eq!(
            sms_length(&"a".repeat(160)),
            SmsLength {
                encoding: "GSM-7",
                units: 160,
                segments: 1
            }
        );
        assert_eq!(sms_length(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(307)).segments, 3);
        assert_eq!(sms_length("€").units, 2, "extension characters count twice");
        assert_eq!(
            sms_length(&"ж".repeat(70)),
            SmsLength {
                encoding: "UCS-2",
                units: 70,
                segments: 1
            }
        );
        assert_eq!(sms_length(&"ж".repeat(71)).segments, 2);
        assert_eq!(sms_length("🎉").units, 2);
    }
}
