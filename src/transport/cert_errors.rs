//! Readable sentences for Windows certificate-verification errors.
//!
//! On Windows the platform verifier asks the OS to check the server's chain.
//! The common failures come back as rustls' own kinds (`UnknownIssuer`,
//! `Expired`, `NotValidForName`), but any other one arrives as a raw OS
//! error: `Other(OtherError("OS Error -2146762482 (FormatMessageW() returned
//! error 317) (os error -2146762482)"))` under Wine, or the system's own
//! message on Windows. Nobody at a practice can act on that, so the code is
//! looked up here and the text replaced by a sentence that keeps the code's
//! name and number for whoever supports the machine.
//!
//! The lookup is plain text work, so it is compiled and tested everywhere.

use std::borrow::Cow;

use crate::text::Shown;

/// HRESULTs from certificate chain building and policy checks (winerror.h),
/// with what each means for someone looking at a failed send.
const CODES: &[(u32, &str, &str)] = &[
    (
        0x800B_0101,
        "CERT_E_EXPIRED",
        "a certificate in the server's chain has expired or is not yet valid (check this computer's clock too)",
    ),
    (
        0x800B_0102,
        "CERT_E_VALIDITYPERIODNESTING",
        "the validity periods of the server's certificate chain do not nest",
    ),
    (
        0x800B_0103,
        "CERT_E_ROLE",
        "a certificate that may only identify a server was used to issue others",
    ),
    (
        0x800B_0104,
        "CERT_E_PATHLENCONST",
        "the server's certificate chain is longer than its issuer allows",
    ),
    (
        0x800B_0105,
        "CERT_E_CRITICAL",
        "the server's certificate has a critical extension Windows does not understand",
    ),
    (
        0x800B_0106,
        "CERT_E_PURPOSE",
        "the server's certificate is not meant for this purpose",
    ),
    (
        0x800B_0107,
        "CERT_E_ISSUERCHAINING",
        "a certificate in the server's chain was not issued by the one above it",
    ),
    (
        0x800B_0108,
        "CERT_E_MALFORMED",
        "the server's certificate is malformed",
    ),
    (
        0x800B_0109,
        "CERT_E_UNTRUSTEDROOT",
        "the server's certificate chain ends in a root CA this computer does not trust",
    ),
    (
        0x800B_010A,
        "CERT_E_CHAINING",
        "no chain could be built from the server's certificate to a CA this computer trusts",
    ),
    (
        0x800B_010B,
        "TRUST_E_FAIL",
        "Windows did not trust the server's certificate",
    ),
    (
        0x800B_010C,
        "CERT_E_REVOKED",
        "the server's certificate has been revoked by its issuer",
    ),
    (
        0x800B_010D,
        "CERT_E_UNTRUSTEDTESTROOT",
        "the server's certificate chain ends in a test root CA, which is not trusted",
    ),
    (
        0x800B_010E,
        "CERT_E_REVOCATION_FAILURE",
        "Windows could not check whether the server's certificate has been revoked (is the CA's revocation list or OCSP server reachable from this computer?)",
    ),
    (
        0x800B_010F,
        "CERT_E_CN_NO_MATCH",
        "the server's certificate is for a different host name",
    ),
    (
        0x800B_0110,
        "CERT_E_WRONG_USAGE",
        "the server's certificate is not valid for this use",
    ),
    (
        0x800B_0111,
        "TRUST_E_EXPLICIT_DISTRUST",
        "a certificate in the server's chain is marked as distrusted on this computer",
    ),
    (
        0x800B_0112,
        "CERT_E_UNTRUSTEDCA",
        "a CA in the server's certificate chain is not trusted on this computer",
    ),
    (
        0x800B_0113,
        "CERT_E_INVALID_POLICY",
        "the server's certificate breaks a certificate policy",
    ),
    (
        0x800B_0114,
        "CERT_E_INVALID_NAME",
        "the server's certificate has a name its issuer may not certify",
    ),
    (
        0x8009_2010,
        "CRYPT_E_REVOKED",
        "the server's certificate has been revoked by its issuer",
    ),
    (
        0x8009_2012,
        "CRYPT_E_NO_REVOCATION_CHECK",
        "Windows could not check whether the server's certificate has been revoked",
    ),
    (
        0x8009_2013,
        "CRYPT_E_REVOCATION_OFFLINE",
        "the server that says whether the certificate has been revoked could not be reached from this computer",
    ),
    (
        0x8009_6004,
        "TRUST_E_CERT_SIGNATURE",
        "a signature in the server's certificate chain does not verify",
    ),
    (
        0x8009_6019,
        "TRUST_E_BASIC_CONSTRAINTS",
        "a certificate in the server's chain breaks its basic constraints",
    ),
];

/// The rustls error text with a Windows certificate error replaced by a
/// sentence (`Owned`, safe to show as it is), or the text unchanged when it
/// holds no OS error code (`Borrowed`: still raw).
pub(crate) fn readable(tls_error: &str) -> Cow<'_, str> {
    let Some(code) = os_error_code(tls_error) else {
        return Cow::Borrowed(tls_error);
    };
    // Whatever came before the raw error ("invalid peer certificate: ")
    // still says what was being checked.
    let lead = tls_error
        .find("Other(")
        .or_else(|| tls_error.find("OS Error"))
        .map_or("", |at| &tls_error[..at]);
    // rustls' own words, but shown like any other error text to be safe.
    let lead = Shown(lead);
    Cow::Owned(match CODES.iter().find(|(c, _, _)| *c == code) {
        Some((_, name, sentence)) => format!("{lead}{sentence} (Windows {name}, 0x{code:08X})"),
        None => format!("{lead}Windows error 0x{code:08X} while checking the server's certificate"),
    })
}

/// The number in the last `(os error N)` of `text`, as an HRESULT.
fn os_error_code(text: &str) -> Option<u32> {
    const MARK: &str = "(os error ";
    let at = text.rfind(MARK)? + MARK.len();
    let digits = &text[at..at + text[at..].find(')')?];
    // Rust prints an HRESULT as the signed 32-bit number Windows stores.
    digits.parse::<i32>().ok().map(|n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the verifier gives under Wine for a CA that is not in the store.
    const WINE_TEXT: &str = "invalid peer certificate: Other(OtherError(\"OS Error -2146762482 \
        (FormatMessageW() returned error 317) (os error -2146762482)\"))";

    #[test]
    fn revocation_failure_becomes_a_sentence() {
        let text = readable(WINE_TEXT);
        assert_eq!(
            text,
            "invalid peer certificate: Windows could not check whether the server's certificate \
             has been revoked (is the CA's revocation list or OCSP server reachable from this \
             computer?) (Windows CERT_E_REVOCATION_FAILURE, 0x800B010E)"
        );
        assert!(!text.contains("FormatMessageW") && !text.contains("OtherError"));
    }

    #[test]
    fn windows_own_message_is_replaced_too() {
        // On Windows the io::Error carries the system's message instead.
        let text = "invalid peer certificate: Other(OtherError(\"A certificate chain processed, \
            but terminated in a root certificate which is not trusted by the trust provider. \
            (os error -2146762487)\"))";
        assert_eq!(
            readable(text),
            "invalid peer certificate: the server's certificate chain ends in a root CA this \
             computer does not trust (Windows CERT_E_UNTRUSTEDROOT, 0x800B0109)"
        );
    }

    #[test]
    fn common_codes_are_named() {
        for (code, name) in [
            (0x800B_0101u32, "CERT_E_EXPIRED"),
            (0x800B_010F, "CERT_E_CN_NO_MATCH"),
            (0x8009_2010, "CRYPT_E_REVOKED"),
            (0x8009_2013, "CRYPT_E_REVOCATION_OFFLINE"),
            (0x800B_010A, "CERT_E_CHAINING"),
        ] {
            let raw = format!(
                "invalid peer certificate: Other(OtherError(\"x (os error {})\"))",
                code as i32
            );
            let text = readable(&raw);
            assert!(text.contains(name), "{text}");
            assert!(text.contains(&format!("0x{code:08X}")), "{text}");
            assert!(!text.contains("os error"), "{text}");
        }
    }

    #[test]
    fn unknown_codes_keep_their_number_only() {
        let raw = format!(
            "invalid peer certificate: Other(OtherError(\"OS Error -1 (FormatMessageW() returned error 317) (os error {})\"))",
            0x8009_9999u32 as i32
        );
        assert_eq!(
            readable(&raw),
            "invalid peer certificate: Windows error 0x80099999 while checking the server's certificate"
        );
    }

    #[test]
    fn other_errors_pass_through() {
        for text in [
            "invalid peer certificate: UnknownIssuer",
            "invalid peer certificate: NotValidForName",
            "received fatal alert: HandshakeFailure",
            "(os error abc)",
            "(os error 12",
        ] {
            assert!(matches!(readable(text), Cow::Borrowed(t) if t == text));
        }
    }
}
