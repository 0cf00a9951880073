//! Personal values found in JSON text, so a replay decrypts them in place without parsing the
//! whole payload into a `serde_json::Value` (and back).
//!
//! A stored personal value is the object `{"es:personal": {"subject": ..., "key": ..., "nonce":
//! ..., "data": ...}}`. In valid JSON text the key `"es:personal"` right after an object's `{` can
//! only be that object's first key (a `"` inside a string is escaped), so the scan looks for it
//! there, reads the inner object with serde, and takes the object as a marker only if it closes
//! right after: a single-key object, as `personal::marker` requires of a parsed value.

use super::MARKER;
use serde::Deserialize;
use std::borrow::Cow;

/// The encrypted fields of one marker.
#[derive(Deserialize)]
pub(super) struct Sealed<'a> {
    #[serde(borrow)]
    pub subject: Cow<'a, str>,
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub nonce: Cow<'a, str>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// One marker in the text: the byte range of its whole object and its fields.
pub(super) struct Found<'a> {
    pub start: usize,
    pub end: usize,
    pub sealed: Sealed<'a>,
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The encrypted personal values of `text` (valid JSON), in order. Markers without ciphertext
/// (plaintext or erased ones) are not returned.
pub(super) fn find(text: &str) -> Vec<Found<'_>> {
    let bytes = text.as_bytes();
    let quoted = format!("\"{MARKER}\"");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(&quoted).map(|i| from + i) {
        from = at + quoted.len();
        // The object's `{` right before the key (whitespace allowed).
        let Some(start) = bytes[..at]
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        else {
            continue;
        };
        if bytes[start] != b'{' {
            continue;
        }
        let colon = skip_ws(bytes, from);
        if bytes.get(colon) != Some(&b':') {
            continue;
        }
        let inner = colon + 1;
        let mut values =
            serde_json::Deserializer::from_str(&text[inner..]).into_iter::<Sealed<'_>>();
        let Some(Ok(sealed)) = values.next() else {
            continue;
        };
        let close = skip_ws(bytes, inner + values.byte_offset());
        if bytes.get(close) != Some(&b'}') {
            continue;
        }
        from = close + 1;
        found.push(Found {
            start,
            end: close + 1,
            sealed,
        });
    }
    found
}

/// `text` with each of `found` replaced by what `open` makes of it (JSON text).
pub(super) fn splice(
    text: &str,
    found: &[Found<'_>],
    mut open: impl FnMut(&Sealed<'_>) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for f in found {
        out.push_str(&text[copied..f.start]);
        out.push_str(&open(&f.sealed)?);
        copied = f.end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_in_compact_and_spaced_text_and_nowhere_else() {
        let compact = r#"{"a":1,"email":{"es:personal":{"subject":"u\"1","key":"k","nonce":"n","data":"d"}},"b":[{"es:personal":{"subject":"u2","nonce":"n2","data":"d2"}}]}"#;
        let found = find(compact);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].sealed.subject, "u\"1");
        assert_eq!(found[1].sealed.data, "d2");
        let out = splice(compact, &found, |s| Ok(format!("\"{}\"", s.data))).unwrap();
        assert_eq!(out, r#"{"a":1,"email":"d","b":["d2"]}"#);

        // PostgreSQL's jsonb text: spaces, keys reordered.
        let spaced = r#"{"email": {"es:personal": {"key": "k", "data": "d", "nonce": "n", "subject": "u1"}}, "n": 2}"#;
        let found = find(spaced);
        assert_eq!(found.len(), 1);
        let out = splice(spaced, &found, |_| Ok("null".into())).unwrap();
        assert_eq!(out, r#"{"email": null, "n": 2}"#);

        // Not markers: the key in a string, a second key, a plaintext or erased marker.
        for text in [
            r#"{"note":"{\"es:personal\":{\"subject\":\"u\",\"nonce\":\"n\",\"data\":\"d\"}}"}"#,
            r#"{"x":{"es:personal":{"subject":"u","nonce":"n","data":"d"},"other":1}}"#,
            r#"{"x":{"a":1,"es:personal":{"subject":"u","nonce":"n","data":"d"}}}"#,
            r#"{"x":{"es:personal":{"subject":"u","value":"plain"}}}"#,
            r#"{"x":{"es:personal":{"subject":"u","erased":true}}}"#,
            r#"["es:personal"]"#,
        ] {
            assert!(find(text).is_empty(), "{text}");
        }
    }
}
