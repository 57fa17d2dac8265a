//! The synapse `computed_body_hash` (spec §2.4), which needs CPython's exact `repr(str)` / `str(list)` text.

use sha3::{Digest, Sha3_256};

use super::unicode_nonprintable::NON_PRINTABLE;

/// `sha3_256("")` in hex: the body hash of a synapse without hash fields.
pub const EMPTY_BODY_HASH: &str =
    "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

/// Lowercase hex SHA3-256 (FIPS-202, not Keccak) of `data`.
pub fn sha3_256_hex(data: &[u8]) -> String {
    hex::encode(Sha3_256::digest(data))
}

/// Whether CPython considers `c` printable (`str.isprintable()`), i.e. `repr` keeps it verbatim.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    // Binary search over the generated, sorted ranges.
    let idx = NON_PRINTABLE.partition_point(|&(_, end)| end < cp);
    !matches!(NON_PRINTABLE.get(idx), Some(&(start, _)) if start <= cp)
}

/// CPython's `repr(s)` for a `str`, byte for byte.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if is_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// CPython's `str(list_of_str)`: `[` + `", ".join(repr(s))` + `]`.
pub fn py_str_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| py_repr_str(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

/// `computed_body_hash` for hash fields given as their Python `str()` texts, in model field order:
/// `sha3_256_hex(h_1 ‖ h_2 ‖ …)` with `h_i = sha3_256_hex(utf8(text_i))`.
pub fn body_hash_of_fields<S: AsRef<str>>(field_texts: &[S]) -> String {
    let concatenated: String = field_texts
        .iter()
        .map(|t| sha3_256_hex(t.as_ref().as_bytes()))
        .collect();
    sha3_256_hex(concatenated.as_bytes())
}

/// `computed_body_hash` of the `Prompting` synapse, whose only hash field is `messages`.
pub fn prompting_body_hash<S: AsRef<str>>(messages: &[S]) -> String {
    body_hash_of_fields(&[py_str_list(messages)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_cases() {
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(
            py_repr_str("\u{a0}\u{200b}\u{2028}\u{feff}é😀"),
            "'\\xa0\\u200b\\u2028\\ufeffé😀'"
        );
        assert_eq!(
            py_repr_str("\u{e0000}\u{7f}\u{1}"),
            "'\\U000e0000\\x7f\\x01'"
        );
        assert_eq!(py_str_list::<&str>(&[]), "[]");
        assert_eq!(body_hash_of_fields::<&str>(&[]), sha3_256_hex(b""));
        assert_eq!(sha3_256_hex(b""), EMPTY_BODY_HASH);
    }
}
