//! A small XML reader for `<marshal>` documents: start tags with attributes, end tags, text
//! with entity and character references, CDATA, comments, processing instructions (the XML
//! declaration). No DTD. Enough for what lxml writes, and several times faster than building
//! a DOM first (a 100-partition `getFullComputerInformation` is ~225 KB).

use super::DecodeError;

/// A start tag.
pub(super) struct Tag<'a> {
    pub(super) name: &'a str,
    /// Raw attribute text between the name and `>` (parsed on demand).
    attrs: &'a str,
    /// `<name/>`
    pub(super) empty: bool,
}

impl Tag<'_> {
    /// The value of an attribute, entity references decoded.
    pub(super) fn attribute(&self, wanted: &str) -> Result<Option<String>, DecodeError> {
        let mut rest = self.attrs.trim_start();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| xml_error(format!("bad attributes in <{}>", self.name)))?;
            let name = rest.get(..eq).unwrap_or_default().trim();
            let after = rest.get(eq + 1..).unwrap_or_default().trim_start();
            let quote = after
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .ok_or_else(|| xml_error(format!("unquoted attribute in <{}>", self.name)))?;
            let body = after.get(1..).unwrap_or_default();
            let end = body
                .find(quote)
                .ok_or_else(|| xml_error(format!("unterminated attribute in <{}>", self.name)))?;
            if name == wanted {
                let mut value = String::new();
                decode_text(body.get(..end).unwrap_or_default(), &mut value)?;
                return Ok(Some(value));
            }
            rest = body.get(end + 1..).unwrap_or_default().trim_start();
        }
        Ok(None)
    }
}

pub(super) struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

pub(super) fn xml_error(msg: String) -> DecodeError {
    DecodeError::Xml(msg)
}

impl<'a> Reader<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Reader { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn at(&self) -> String {
        let line = self
            .s
            .get(..self.pos)
            .map_or(0, |done| done.matches('\n').count())
            + 1;
        format!("line {line}, byte {}", self.pos)
    }

    /// Skip whitespace, comments and processing instructions; error on other text when
    /// `text_ok` is false.
    pub(super) fn skip_misc(&mut self, text_ok: bool) -> Result<(), DecodeError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("<!--") {
                let end = trimmed
                    .find("-->")
                    .ok_or_else(|| xml_error(format!("unterminated comment at {}", self.at())))?;
                self.pos += end + 3;
            } else if trimmed.starts_with("<?") {
                let end = trimmed.find("?>").ok_or_else(|| {
                    xml_error(format!(
                        "unterminated processing instruction at {}",
                        self.at()
                    ))
                })?;
                self.pos += end + 2;
            } else if trimmed.starts_with("<!") {
                return Err(xml_error(format!(
                    "DTDs and CDATA are not expected here ({})",
                    self.at()
                )));
            } else if !trimmed.is_empty() && !trimmed.starts_with('<') {
                if !text_ok {
                    return Err(xml_error(format!("text outside the root at {}", self.at())));
                }
                let next = trimmed.find('<').unwrap_or(trimmed.len());
                self.pos += next;
            } else {
                return Ok(());
            }
        }
    }

    /// Whether the whole input was consumed.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Whether an end tag comes next.
    pub(super) fn at_end_tag(&self) -> bool {
        self.rest().starts_with("</")
    }

    /// Read a start tag.
    pub(super) fn start_tag(&mut self) -> Result<Tag<'a>, DecodeError> {
        let rest = self.rest();
        if rest.is_empty() {
            return Err(xml_error("unexpected end of the document".to_owned()));
        }
        let inner = rest
            .strip_prefix('<')
            .filter(|r| !r.starts_with(['/', '!', '?']))
            .ok_or_else(|| xml_error(format!("expected an element at {}", self.at())))?;
        let end = inner
            .find('>')
            .ok_or_else(|| xml_error(format!("unterminated tag at {}", self.at())))?;
        let mut body = inner.get(..end).unwrap_or_default();
        let empty = body.ends_with('/');
        if empty {
            body = body.get(..body.len() - 1).unwrap_or_default();
        }
        let name_end = body.find([' ', '\t', '\r', '\n']).unwrap_or(body.len());
        let name = body.get(..name_end).unwrap_or_default();
        if name.is_empty() {
            return Err(xml_error(format!("empty tag name at {}", self.at())));
        }
        self.pos += 1 + end + 1;
        Ok(Tag {
            name,
            attrs: body.get(name_end..).unwrap_or_default(),
            empty,
        })
    }

    /// Read the end tag of `name`.
    pub(super) fn end_tag(&mut self, name: &str) -> Result<(), DecodeError> {
        let rest = self.rest();
        let inner = rest
            .strip_prefix("</")
            .ok_or_else(|| xml_error(format!("expected </{name}> at {}", self.at())))?;
        let end = inner
            .find('>')
            .ok_or_else(|| xml_error(format!("unterminated end tag at {}", self.at())))?;
        let got = inner.get(..end).unwrap_or_default().trim_end();
        if got != name {
            return Err(xml_error(format!(
                "<{name}> closed by </{got}> at {}",
                self.at()
            )));
        }
        self.pos += 2 + end + 1;
        Ok(())
    }

    /// The text content of a scalar element whose start tag was just read, up to and including
    /// its end tag.
    pub(super) fn text(&mut self, tag: &Tag<'_>) -> Result<String, DecodeError> {
        let mut out = String::new();
        if tag.empty {
            return Ok(out);
        }
        loop {
            let rest = self.rest();
            let lt = rest
                .find('<')
                .ok_or_else(|| xml_error(format!("<{}> is never closed", tag.name)))?;
            decode_text(rest.get(..lt).unwrap_or_default(), &mut out)?;
            self.pos += lt;
            let rest = self.rest();
            if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let end = cdata
                    .find("]]>")
                    .ok_or_else(|| xml_error(format!("unterminated CDATA at {}", self.at())))?;
                let raw = cdata.get(..end).unwrap_or_default();
                check_chars(raw)?;
                out.push_str(&raw.replace("\r\n", "\n").replace('\r', "\n"));
                self.pos += 9 + end + 3;
            } else if rest.starts_with("<!--") {
                self.skip_misc(false)?;
            } else if rest.starts_with("</") {
                self.end_tag(tag.name)?;
                return Ok(out);
            } else {
                return Err(xml_error(format!(
                    "unexpected element inside <{}> at {}",
                    tag.name,
                    self.at()
                )));
            }
        }
    }
}

/// Decode character data: entity and character references, newline normalisation.
fn decode_text(raw: &str, out: &mut String) -> Result<(), DecodeError> {
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\r']) {
        let literal = rest.get(..i).unwrap_or_default();
        check_chars(literal)?;
        out.push_str(literal);
        let tail = rest.get(i..).unwrap_or_default();
        if let Some(after) = tail.strip_prefix('\r') {
            // XML end-of-line handling: \r\n and a lone \r both become \n.
            out.push('\n');
            rest = after.strip_prefix('\n').unwrap_or(after);
            continue;
        }
        let semi = tail.find(';').filter(|&s| s <= 12).ok_or_else(|| {
            xml_error(format!(
                "bad reference {:?}",
                bouture_text::truncate(tail, 16)
            ))
        })?;
        let entity = tail.get(1..semi).unwrap_or_default();
        match entity {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                let c = code
                    .and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or_else(|| xml_error(format!("bad reference &{entity};")))?;
                out.push(c);
            }
        }
        rest = tail.get(semi + 1..).unwrap_or_default();
    }
    check_chars(rest)?;
    out.push_str(rest);
    Ok(())
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(s: &str) -> Result<(), DecodeError> {
    // Fast path: printable ASCII and multi-byte UTF-8 (checked below only when needed).
    if s.bytes()
        .all(|b| b >= 0x20 && b != 0x7F || b == b'\t' || b == b'\n')
        && s.is_ascii()
    {
        return Ok(());
    }
    match s.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(xml_error(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}
