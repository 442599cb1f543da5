//! The flat `<xml>` codec of API v2 (protocol.md E.1, E.4).
//!
//! v2 messages are one root element holding one level of text fields, each either plain
//! text or CDATA. That is all this codec accepts. Everything else is refused, above all
//! any DOCTYPE: a DTD is how XXE and entity-expansion ("billion laughs") attacks get in,
//! and an internal entity could even make a tampered notification verify (see the
//! `v2_xml_reject_internal_entity` vector). Only the five predefined entities and numeric
//! character references are resolved.

use std::collections::BTreeMap;

use quick_xml::escape::{resolve_xml_entity, unescape_with};
use quick_xml::events::Event;
use quick_xml::Reader;

/// A sensible default for `max_len`: real v2 messages are a few kilobytes.
pub const DEFAULT_MAX_LEN: usize = 64 * 1024;
/// The most fields one message may carry (refund queries with many refunds stay well below).
pub const MAX_FIELDS: usize = 512;

/// Why v2 XML was refused.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The input is larger than the caller allows.
    #[error("XML body is {len} bytes; the limit is {max}")]
    TooLarge {
        /// Input length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document has a DOCTYPE (and with it possibly ENTITY declarations).
    #[error("XML with a DOCTYPE or ENTITY declaration is refused")]
    DoctypeRefused,
    /// A reference to an entity other than the five predefined ones.
    #[error("reference to undeclared entity &{0}; is refused")]
    EntityRefused(String),
    /// More fields than [`MAX_FIELDS`].
    #[error("more than {0} fields")]
    TooManyFields(usize),
    /// The same field appears twice; which one is signed would be ambiguous.
    #[error("field {0:?} appears twice")]
    DuplicateField(String),
    /// A field contains an element instead of text.
    #[error("field {0:?} contains a nested element; v2 XML is flat")]
    Nested(String),
    /// Text outside any field, a second root, a processing instruction, or no root at all.
    #[error("unexpected XML structure: {0}")]
    Structure(&'static str),
    /// Not UTF-8.
    #[error("XML is not valid UTF-8")]
    Utf8(#[source] std::str::Utf8Error),
    /// A malformed character reference or a stray `&`.
    #[error("bad character or entity reference")]
    Escape(#[source] quick_xml::escape::EscapeError),
    /// The XML is not well-formed.
    #[error("malformed XML")]
    Syntax(#[source] quick_xml::Error),
    /// A field name is not a plain v2 name (ASCII letters, digits, `_`, `-`, `.`).
    #[error("{0:?} is not a valid v2 field name")]
    InvalidName(String),
    /// A value holds a character XML 1.0 cannot carry (a control character, say).
    #[error("field {field:?} holds U+{code:04X}, which XML cannot carry")]
    InvalidChar {
        /// Which field.
        field: String,
        /// The code point.
        code: u32,
    },
}

impl XmlError {
    /// A stable, coarse code (`doctype_refused` matches the vector set).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::DoctypeRefused | Self::EntityRefused(_) => "doctype_refused",
            Self::TooManyFields(_) => "too_many_fields",
            Self::DuplicateField(_) => "duplicate_field",
            Self::InvalidName(_) | Self::InvalidChar { .. } => "invalid_field",
            Self::Nested(_)
            | Self::Structure(_)
            | Self::Utf8(_)
            | Self::Escape(_)
            | Self::Syntax(_) => "malformed",
        }
    }
}

enum State {
    BeforeRoot,
    InRoot,
    InField { name: String, value: String },
    AfterRoot,
}

/// Parses a flat v2 message into field name → value.
///
/// The root may have any name (`<xml>` for messages, `<root>` inside a decrypted refund
/// `req_info`). `<a/>` and `<a></a>` give empty values; plain text and CDATA sections in one
/// field are concatenated. Values are not trimmed, because they are signed as sent.
pub fn parse(bytes: &[u8], max_len: usize) -> Result<BTreeMap<String, String>, XmlError> {
    if bytes.len() > max_len {
        return Err(XmlError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;

    let mut fields = BTreeMap::new();
    let mut state = State::BeforeRoot;
    loop {
        let event = reader.read_event().map_err(XmlError::Syntax)?;
        state = match (state, event) {
            (_, Event::DocType(_)) => return Err(XmlError::DoctypeRefused),
            (_, Event::PI(_)) => return Err(XmlError::Structure("processing instruction")),
            (s, Event::Comment(_)) => s,
            (State::BeforeRoot, Event::Decl(_)) => State::BeforeRoot,
            (_, Event::Decl(_)) => return Err(XmlError::Structure("misplaced XML declaration")),
            (State::BeforeRoot, Event::Start(e)) => {
                check_name(&element_name(&e)?)?;
                State::InRoot
            }
            (State::BeforeRoot, Event::Empty(e)) => {
                check_name(&element_name(&e)?)?;
                State::AfterRoot
            }
            (s @ (State::BeforeRoot | State::InRoot | State::AfterRoot), Event::Text(t)) => {
                if !is_xml_whitespace(&t) {
                    return Err(XmlError::Structure("text outside a field"));
                }
                s
            }
            (State::BeforeRoot | State::InRoot | State::AfterRoot, Event::CData(_)) => {
                return Err(XmlError::Structure("CDATA outside a field"))
            }
            (State::BeforeRoot, Event::End(_)) => {
                return Err(XmlError::Structure("end tag before the root"))
            }
            (State::BeforeRoot, Event::Eof) => return Err(XmlError::Structure("no root element")),
            (State::InRoot, Event::Start(e)) => {
                let name = element_name(&e)?;
                State::InField {
                    name,
                    value: String::new(),
                }
            }
            (State::InRoot, Event::Empty(e)) => {
                let name = element_name(&e)?;
                insert_field(&mut fields, name, String::new())?;
                State::InRoot
            }
            (State::InRoot, Event::End(_)) => State::AfterRoot,
            (State::InField { name, mut value }, Event::Text(t)) => {
                let raw = std::str::from_utf8(&t).map_err(XmlError::Utf8)?;
                let text = unescape_with(raw, resolve_xml_entity).map_err(|e| match e {
                    quick_xml::escape::EscapeError::UnrecognizedEntity(_, entity) => {
                        XmlError::EntityRefused(entity)
                    }
                    other => XmlError::Escape(other),
                })?;
                value.push_str(&text);
                State::InField { name, value }
            }
            (State::InField { name, mut value }, Event::CData(c)) => {
                value.push_str(std::str::from_utf8(&c).map_err(XmlError::Utf8)?);
                State::InField { name, value }
            }
            (State::InField { name, .. }, Event::Start(_) | Event::Empty(_)) => {
                return Err(XmlError::Nested(name))
            }
            (State::InField { name, value }, Event::End(_)) => {
                insert_field(&mut fields, name, value)?;
                State::InRoot
            }
            (State::AfterRoot, Event::Start(_) | Event::Empty(_)) => {
                return Err(XmlError::Structure("a second root element"))
            }
            (State::AfterRoot, Event::End(_)) => return Err(XmlError::Structure("stray end tag")),
            (State::AfterRoot, Event::Eof) => return Ok(fields),
            (State::InRoot | State::InField { .. }, Event::Eof) => {
                return Err(XmlError::Structure("unexpected end of input"))
            }
        };
    }
}

fn is_xml_whitespace(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The element's name. v2 messages carry no attributes, so an element with any is refused:
/// a lenient tokenizer would otherwise take garbage after a name as attributes and skip it.
fn element_name(e: &quick_xml::events::BytesStart<'_>) -> Result<String, XmlError> {
    if !is_xml_whitespace(e.attributes_raw()) {
        return Err(XmlError::Structure("attributes on an element"));
    }
    let name = e.name();
    let name = std::str::from_utf8(name.as_ref()).map_err(XmlError::Utf8)?;
    Ok(name.to_owned())
}

fn insert_field(
    fields: &mut BTreeMap<String, String>,
    name: String,
    value: String,
) -> Result<(), XmlError> {
    if fields.len() >= MAX_FIELDS {
        return Err(XmlError::TooManyFields(MAX_FIELDS));
    }
    if fields.contains_key(&name) {
        return Err(XmlError::DuplicateField(name));
    }
    // Read what the writer can write and nothing more: a name that is not a plain field name,
    // or a character XML 1.0 forbids (which a lenient tokenizer lets through), is refused here
    // as it would be by WeChat's parser.
    check_name(&name)?;
    check_chars(&name, &value)?;
    fields.insert(name, value);
    Ok(())
}

fn check_chars(name: &str, value: &str) -> Result<(), XmlError> {
    match value.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(XmlError::InvalidChar {
            field: name.to_owned(),
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// Writes fields as `<xml><k><![CDATA[v]]></k>…</xml>`.
///
/// Every value goes into CDATA, which WeChat accepts for numbers as well; a `]]>` inside a
/// value is split across two sections so it cannot end the section early.
pub fn to_xml<I, K, V>(fields: I) -> Result<String, XmlError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    to_xml_with_root("xml", fields)
}

/// Like [`to_xml`] with another root name, e.g. `root` for a refund `req_info` plaintext.
pub fn to_xml_with_root<I, K, V>(root: &str, fields: I) -> Result<String, XmlError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    check_name(root)?;
    let mut out = String::with_capacity(256);
    out.push('<');
    out.push_str(root);
    out.push('>');
    for (k, v) in fields {
        let (k, v) = (k.as_ref(), v.as_ref());
        check_name(k)?;
        check_chars(k, v)?;
        out.push('<');
        out.push_str(k);
        out.push_str("><![CDATA[");
        out.push_str(&v.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]></");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    Ok(out)
}

/// v2 field names are ASCII identifiers (`return_code`, `coupon_fee_0`); refuse anything
/// else rather than escape it.
fn check_name(name: &str) -> Result<(), XmlError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(XmlError::InvalidName(name.to_owned()))
    }
}

/// XML 1.0 `Char`: tab, LF, CR and everything from U+0020 except surrogates, U+FFFE, U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn p(s: &str) -> Result<BTreeMap<String, String>, XmlError> {
        parse(s.as_bytes(), DEFAULT_MAX_LEN)
    }

    #[test]
    fn cdata_plain_text_empty_and_entities() {
        let m = p(
            "<?xml version=\"1.0\"?>\n<xml>\n<a><![CDATA[x<y]]></a><b>1</b><c/><d></d>\
                   <e>&lt;&amp;&#26376;&#x41;</e><f>p<![CDATA[q]]>r</f><!-- note --></xml>\n",
        )
        .unwrap();
        assert_eq!(m["a"], "x<y");
        assert_eq!(m["b"], "1");
        assert_eq!(m["c"], "");
        assert_eq!(m["d"], "");
        assert_eq!(m["e"], "<&月A");
        assert_eq!(m["f"], "pqr");
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn values_are_not_trimmed() {
        assert_eq!(p("<xml><a> x </a></xml>").unwrap()["a"], " x ");
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let r = p("<!DOCTYPE xml [<!ENTITY a \"1\">]><xml><b>&a;</b></xml>");
        assert!(matches!(r, Err(XmlError::DoctypeRefused)));
        let r = p("<xml><b>&a;</b></xml>");
        assert!(matches!(r, Err(XmlError::EntityRefused(ref e)) if e == "a"));
        assert_eq!(r.unwrap_err().reason_code(), "doctype_refused");
        assert!(matches!(
            p("<xml><!DOCTYPE x><b>1</b></xml>"),
            Err(XmlError::DoctypeRefused)
        ));
        assert!(p("<xml><b>&#xZZ;</b></xml>").is_err());
        assert!(p("<xml><b>a & b</b></xml>").is_err());
    }

    #[test]
    fn refuses_bad_structure() {
        assert!(matches!(
            p("<xml><a><b>1</b></a></xml>"),
            Err(XmlError::Nested(_))
        ));
        assert!(matches!(
            p("<xml><a>1</a><a>2</a></xml>"),
            Err(XmlError::DuplicateField(_))
        ));
        assert!(matches!(
            p("<xml>text<a>1</a></xml>"),
            Err(XmlError::Structure(_))
        ));
        assert!(matches!(
            p("<xml><a>1</a></xml><xml/>"),
            Err(XmlError::Structure(_))
        ));
        assert!(matches!(p("<xml><a>1</a>"), Err(XmlError::Structure(_))));
        assert!(matches!(p(""), Err(XmlError::Structure(_))));
        assert!(matches!(
            p("<xml><?pi x?></xml>"),
            Err(XmlError::Structure(_))
        ));
        assert!(p("<xml><a>1</b></xml>").is_err());
        assert!(matches!(
            parse(b"<xml><a>\xff</a></xml>", 100),
            Err(XmlError::Utf8(_))
        ));
    }

    #[test]
    fn refuses_what_the_writer_could_not_write() {
        // Found by the v2_xml fuzz target: a control character in CDATA parsed but could not
        // be written back. XML 1.0 forbids it, so reading refuses it too.
        assert!(matches!(
            p("<xml><sign><![CDATA[A\u{17}B]]></sign></xml>"),
            Err(XmlError::InvalidChar { code: 0x17, .. })
        ));
        assert!(matches!(
            p("<xml><a>\u{1}</a></xml>"),
            Err(XmlError::InvalidChar { code: 1, .. })
        ));
        assert!(matches!(
            p("<xml><a:b>1</a:b></xml>"),
            Err(XmlError::InvalidName(_))
        ));
        assert_eq!(p("<xml><a>x\ty\r\nz</a></xml>").unwrap()["a"], "x\ty\r\nz");
        // Found by the fuzzer: a root whose name holds NUL bytes and '<' was taken as a root.
        assert!(matches!(
            p("<#\u{0}i<_ino></#\u{0}i<_ino>"),
            Err(XmlError::InvalidName(_))
        ));
        assert!(p("<root/>").unwrap().is_empty());
        // Also found by the fuzzer: garbage after the root's name was skipped as attributes.
        assert!(p("<xml\n<\u{0}\u{0}e\" c\"=UTF-8\"><a>1</a></xml>").is_err());
        assert!(matches!(
            p("<xml><a id=\"1\">1</a></xml>"),
            Err(XmlError::Structure(_))
        ));
        assert_eq!(p("<xml ><a >1</a ></xml>").unwrap()["a"], "1");
    }

    #[test]
    fn bounds() {
        let big = format!("<xml><a>{}</a></xml>", "x".repeat(100));
        assert!(matches!(
            parse(big.as_bytes(), 50),
            Err(XmlError::TooLarge { max: 50, .. })
        ));
        let many: String = (0..=MAX_FIELDS)
            .map(|i| format!("<f{i}>1</f{i}>"))
            .collect();
        let doc = format!("<xml>{many}</xml>");
        assert!(matches!(
            parse(doc.as_bytes(), usize::MAX),
            Err(XmlError::TooManyFields(_))
        ));
    }

    #[test]
    fn writer_splits_cdata_terminator_and_round_trips() {
        let fields = [("a", "x]]>y"), ("b", "]]>"), ("c", "<&>"), ("d", "")];
        let xml = to_xml(fields).unwrap();
        assert_eq!(xml.matches("]]>").count(), 6);
        let back = p(&xml).unwrap();
        for (k, v) in fields {
            assert_eq!(back[k], v);
        }
        assert!(matches!(
            to_xml([("a b", "1")]),
            Err(XmlError::InvalidName(_))
        ));
        assert!(matches!(
            to_xml([("a", "\u{0}")]),
            Err(XmlError::InvalidChar { code: 0, .. })
        ));
        assert_eq!(
            to_xml_with_root("root", [("k", "v")]).unwrap(),
            "<root><k><![CDATA[v]]></k></root>"
        );
    }
}
