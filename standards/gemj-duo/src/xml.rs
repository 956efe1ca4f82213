//! A small, strict XML 1.0 reader for the RDF/XML files of DUO: elements, attributes, text,
//! namespaces, the five predefined entities, character references and the general entities of
//! an internal DOCTYPE subset (as Protégé writes them). It builds a little tree and never panics.
//!
//! Invariant: no external entities, no parameter entities, no DTD validation, no encodings other
//! than UTF-8 (the input is a `&str`). Nesting deeper than [`MAX_DEPTH`] and entity expansion
//! beyond a fixed budget are errors, so a hostile document cannot exhaust the stack or memory.

/// The XML namespace (bound to the `xml` prefix by the XML Namespaces recommendation).
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// How deep elements may nest. RDF/XML of an ontology needs fewer than ten levels.
pub(crate) const MAX_DEPTH: usize = 256;

/// Bytes that entity expansion may add beyond the input's own length.
const EXPANSION_BUDGET: usize = 8 * 1024 * 1024;

/// Where and why a document is not well-formed XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    /// Byte offset in the input.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl XmlError {
    fn new(offset: usize, reason: impl Into<String>) -> Self {
        Self {
            offset,
            reason: reason.into(),
        }
    }
}

/// An attribute with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    /// Namespace URI; empty for an unprefixed attribute.
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Value, entities decoded.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (text or CDATA), entities decoded.
    Text(String),
}

/// An element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// Namespace URI; empty when the name has no prefix and no default namespace applies.
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Attributes other than namespace declarations.
    pub attrs: Vec<Attr>,
    /// Children in document order.
    pub children: Vec<Node>,
    /// Byte offset of the start tag.
    pub offset: usize,
}

impl Element {
    /// Whether the element is `{ns}local`.
    pub(crate) fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The value of attribute `{ns}local`.
    pub(crate) fn attr(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The child elements.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The direct text content, concatenated.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text(t) = node {
                out.push_str(t);
            }
        }
        out
    }
}

/// An element being read: its raw name (to check the end tag) and its namespace scope.
struct Open {
    qname: String,
    element: Element,
    /// Prefix bindings declared on this element (`""` = default namespace).
    scope: Vec<(String, String)>,
}

/// Reads a whole document and returns its root element.
pub(crate) fn parse(input: &str) -> Result<Element, XmlError> {
    Reader {
        input,
        bytes: input.as_bytes(),
        pos: 0,
        entities: Vec::new(),
        budget: input.len().saturating_add(EXPANSION_BUDGET),
    }
    .document()
}

struct Reader<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// General entities of the internal DOCTYPE subset, values already decoded.
    entities: Vec<(String, String)>,
    /// Bytes that entity expansion may still produce.
    budget: usize,
}

impl<'a> Reader<'a> {
    fn document(mut self) -> Result<Element, XmlError> {
        // A byte-order mark is allowed before the declaration.
        if self.input.starts_with('\u{feff}') {
            self.pos = '\u{feff}'.len_utf8();
        }
        let mut stack: Vec<Open> = Vec::new();
        let mut root: Option<Element> = None;
        while self.pos < self.bytes.len() {
            if self.rest().starts_with("<!--") {
                self.skip_past(self.pos + 4, "-->", "unterminated comment")?;
            } else if self.rest().starts_with("<![CDATA[") {
                let start = self.pos + 9;
                let end = self.find(start, "]]>", "unterminated CDATA section")?;
                let text = self.slice(start, end)?.to_owned();
                self.pos = end + 3;
                match stack.last_mut() {
                    Some(open) => open.element.children.push(Node::Text(text)),
                    None => return Err(XmlError::new(start, "CDATA outside the root element")),
                }
            } else if self.rest().starts_with("<!DOCTYPE") {
                if root.is_some() || !stack.is_empty() {
                    return Err(XmlError::new(self.pos, "DOCTYPE after the root element"));
                }
                self.doctype()?;
            } else if self.rest().starts_with("<?") {
                self.skip_past(self.pos + 2, "?>", "unterminated processing instruction")?;
            } else if self.rest().starts_with("</") {
                let at = self.pos;
                self.pos += 2;
                let name = self.name()?;
                self.skip_ws();
                self.expect(b'>', "'>' to close the end tag")?;
                let Some(open) = stack.pop() else {
                    return Err(XmlError::new(
                        at,
                        format!("end tag </{name}> with no open element"),
                    ));
                };
                if open.qname != name {
                    return Err(XmlError::new(
                        at,
                        format!("end tag </{name}> does not match <{}>", open.qname),
                    ));
                }
                Self::close(open.element, &mut stack, &mut root, at)?;
            } else if self.rest().starts_with('<') {
                let at = self.pos;
                if root.is_some() {
                    return Err(XmlError::new(at, "a second root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::new(at, "elements nest too deeply"));
                }
                let (open, empty) = self.start_tag(&stack)?;
                if empty {
                    Self::close(open.element, &mut stack, &mut root, at)?;
                } else {
                    stack.push(open);
                }
            } else {
                let start = self.pos;
                if self.input.get(start..).is_none() {
                    return Err(XmlError::new(start, "text is not on a character boundary"));
                }
                let end = self
                    .rest()
                    .find('<')
                    .map_or(self.bytes.len(), |i| start + i);
                let raw = self.slice(start, end)?;
                self.pos = end;
                match stack.last_mut() {
                    Some(open) => {
                        let text = self.decode(raw, start)?;
                        open.element.children.push(Node::Text(text));
                    }
                    None if raw.trim().is_empty() => {}
                    None => return Err(XmlError::new(start, "text outside the root element")),
                }
            }
        }
        if let Some(open) = stack.last() {
            return Err(XmlError::new(
                open.element.offset,
                format!("<{}> is never closed", open.qname),
            ));
        }
        root.ok_or_else(|| XmlError::new(self.bytes.len(), "no root element"))
    }

    /// Attaches a finished element to its parent, or makes it the root.
    fn close(
        element: Element,
        stack: &mut [Open],
        root: &mut Option<Element>,
        at: usize,
    ) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(parent) => parent.element.children.push(Node::Element(element)),
            None if root.is_none() => *root = Some(element),
            None => return Err(XmlError::new(at, "a second root element")),
        }
        Ok(())
    }

    /// Reads `<name attr="v" ...>` or `.../>` and resolves namespaces.
    fn start_tag(&mut self, stack: &[Open]) -> Result<(Open, bool), XmlError> {
        let offset = self.pos;
        self.pos += 1;
        let qname = self.name()?;
        let mut raw_attrs: Vec<(String, String, usize)> = Vec::new();
        let empty = loop {
            let had_ws = self.skip_ws();
            match self.bytes.get(self.pos) {
                None => return Err(XmlError::new(offset, "unterminated start tag")),
                Some(b'>') => {
                    self.pos += 1;
                    break false;
                }
                Some(b'/') => {
                    self.pos += 1;
                    self.expect(b'>', "'>' after '/' in a start tag")?;
                    break true;
                }
                Some(_) if !had_ws => {
                    return Err(XmlError::new(self.pos, "white space before an attribute"));
                }
                Some(_) => {
                    let at = self.pos;
                    let name = self.name()?;
                    self.skip_ws();
                    self.expect(b'=', "'=' after an attribute name")?;
                    self.skip_ws();
                    let value = self.quoted()?;
                    if raw_attrs.iter().any(|(n, _, _)| *n == name) {
                        return Err(XmlError::new(at, format!("duplicate attribute {name}")));
                    }
                    raw_attrs.push((name, value, at));
                }
            }
        };
        let mut scope = Vec::new();
        for (name, value, _) in &raw_attrs {
            if name == "xmlns" {
                scope.push((String::new(), value.clone()));
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                scope.push((prefix.to_owned(), value.clone()));
            }
        }
        let resolve = |prefix: &str| -> Option<String> {
            if prefix == "xml" {
                return Some(XML_NS.to_owned());
            }
            scope
                .iter()
                .rev()
                .chain(stack.iter().rev().flat_map(|o| o.scope.iter().rev()))
                .find(|(p, _)| p == prefix)
                .map(|(_, uri)| uri.clone())
        };
        // A qualified name as (namespace, local part); `unprefixed` is the namespace of a name
        // without a prefix.
        let expand = |name: &str, at, unprefixed: String| match name.split_once(':') {
            Some((prefix, local)) => match resolve(prefix) {
                Some(uri) => Ok((uri, local.to_owned())),
                None => Err(XmlError::new(
                    at,
                    format!("undeclared namespace prefix {prefix:?}"),
                )),
            },
            None => Ok((unprefixed, name.to_owned())),
        };
        let (ns, local) = expand(&qname, offset, resolve("").unwrap_or_default())?;
        let mut attrs = Vec::new();
        for (name, value, at) in raw_attrs {
            if name == "xmlns" || name.starts_with("xmlns:") {
                continue;
            }
            // Unprefixed attributes are in no namespace (XML Namespaces 1.0, section 6.2).
            let (ns, local) = expand(&name, at, String::new())?;
            attrs.push(Attr { ns, local, value });
        }
        let element = Element {
            ns,
            local,
            attrs,
            children: Vec::new(),
            offset,
        };
        Ok((
            Open {
                qname,
                element,
                scope,
            },
            empty,
        ))
    }

    /// Reads `<!DOCTYPE name ... [ internal subset ]>`, keeping general entity declarations.
    fn doctype(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        self.pos += "<!DOCTYPE".len();
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(XmlError::new(start, "unterminated DOCTYPE")),
                Some(b'>') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.internal_subset()?;
                }
                Some(q @ (b'"' | b'\'')) => {
                    let quote = *q;
                    self.pos += 1;
                    self.skip_until_byte(quote, "unterminated literal in DOCTYPE")?;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Reads declarations up to and including the closing `]` of an internal DTD subset.
    fn internal_subset(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            let at = self.pos;
            if self.pos >= self.bytes.len() {
                return Err(XmlError::new(at, "unterminated DOCTYPE internal subset"));
            }
            if self.rest().starts_with(']') {
                self.pos += 1;
                return Ok(());
            }
            if self.rest().starts_with("<!--") {
                self.skip_past(self.pos + 4, "-->", "unterminated comment")?;
            } else if self.rest().starts_with("<?") {
                self.skip_past(self.pos + 2, "?>", "unterminated processing instruction")?;
            } else if self.rest().starts_with("<!ENTITY") {
                self.pos += "<!ENTITY".len();
                self.skip_ws();
                if self.rest().starts_with('%') {
                    // A parameter entity: not used in general content, skip it.
                    self.skip_declaration(at)?;
                    continue;
                }
                let name = self.name()?;
                self.skip_ws();
                if !matches!(self.bytes.get(self.pos), Some(b'"' | b'\'')) {
                    // An external entity (SYSTEM/PUBLIC): never fetched, and unusable.
                    self.skip_declaration(at)?;
                    continue;
                }
                let value_at = self.pos + 1;
                let raw = self.quoted_raw()?;
                let value = self.decode(&raw, value_at)?;
                self.skip_ws();
                self.expect(b'>', "'>' to close an ENTITY declaration")?;
                // The first declaration of an entity is binding (XML 1.0, section 4.2).
                if !self.entities.iter().any(|(n, _)| *n == name) {
                    self.entities.push((name, value));
                }
            } else if self.rest().starts_with('<') {
                self.pos += 1;
                self.skip_declaration(at)?;
            } else if self.rest().starts_with('%') {
                // A parameter entity reference in the subset: skip to its ';'.
                self.skip_until_byte(b';', "unterminated parameter entity reference")?;
            } else {
                return Err(XmlError::new(at, "unexpected content in the DOCTYPE"));
            }
        }
    }

    /// Skips the rest of a markup declaration, honouring quoted literals.
    fn skip_declaration(&mut self, start: usize) -> Result<(), XmlError> {
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(XmlError::new(start, "unterminated declaration")),
                Some(b'>') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(q @ (b'"' | b'\'')) => {
                    let quote = *q;
                    self.pos += 1;
                    self.skip_until_byte(quote, "unterminated literal")?;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Moves past the next `byte`.
    fn skip_until_byte(&mut self, byte: u8, what: &str) -> Result<(), XmlError> {
        let start = self.pos;
        match self
            .bytes
            .get(start..)
            .and_then(|b| b.iter().position(|c| *c == byte))
        {
            Some(i) => {
                self.pos = start + i + 1;
                Ok(())
            }
            None => Err(XmlError::new(start, what)),
        }
    }

    /// Reads a quoted attribute value and decodes its entities.
    fn quoted(&mut self) -> Result<String, XmlError> {
        let at = self.pos + 1;
        let raw = self.quoted_raw()?;
        if raw.contains('<') {
            return Err(XmlError::new(at, "'<' in an attribute value"));
        }
        // Attribute-value normalisation (XML 1.0, section 3.3.3): literal white space becomes a
        // space; white space written as a character reference is kept.
        let raw = raw.replace(['\t', '\n', '\r'], " ");
        self.decode(&raw, at)
    }

    /// Reads a quoted literal as written.
    fn quoted_raw(&mut self) -> Result<String, XmlError> {
        let quote = match self.bytes.get(self.pos) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => return Err(XmlError::new(self.pos, "a quoted value")),
        };
        let start = self.pos + 1;
        let end = match self
            .bytes
            .get(start..)
            .and_then(|b| b.iter().position(|c| *c == quote))
        {
            Some(i) => start + i,
            None => return Err(XmlError::new(self.pos, "unterminated quoted value")),
        };
        let raw = self.slice(start, end)?.to_owned();
        self.pos = end + 1;
        Ok(raw)
    }

    /// Reads a name: everything up to white space or a delimiter.
    fn name(&mut self) -> Result<String, XmlError> {
        let start = self.pos;
        while let Some(b) = self.bytes.get(self.pos) {
            if b.is_ascii_whitespace() || matches!(b, b'/' | b'>' | b'=' | b'<' | b'"' | b'\'') {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(XmlError::new(start, "a name"));
        }
        Ok(self.slice(start, self.pos)?.to_owned())
    }

    /// Decodes entity and character references in `raw` (found at `at`).
    fn decode(&mut self, raw: &str, at: usize) -> Result<String, XmlError> {
        if !raw.contains('&') {
            return Ok(raw.to_owned());
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let Some(semi) = after.find(';') else {
                return Err(XmlError::new(at, "'&' without a closing ';'"));
            };
            let name = &after[..semi];
            match name {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "quot" => out.push('"'),
                "apos" => out.push('\''),
                _ if name.starts_with('#') => {
                    let code = match name.strip_prefix("#x") {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => name[1..].parse::<u32>().ok(),
                    };
                    match code.and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => {
                            return Err(XmlError::new(
                                at,
                                format!("bad character reference &{name};"),
                            ));
                        }
                    }
                }
                _ => {
                    let Some((_, value)) = self.entities.iter().find(|(n, _)| n == name) else {
                        return Err(XmlError::new(at, format!("unknown entity &{name};")));
                    };
                    if value.len() > self.budget {
                        return Err(XmlError::new(at, "entity expansion limit exceeded"));
                    }
                    self.budget -= value.len();
                    out.push_str(value);
                }
            }
            rest = &after[semi + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, XmlError> {
        self.input
            .get(start..end)
            .ok_or_else(|| XmlError::new(start, "text is not on a character boundary"))
    }

    fn find(&self, from: usize, needle: &str, what: &str) -> Result<usize, XmlError> {
        self.input
            .get(from..)
            .and_then(|s| s.find(needle))
            .map(|i| from + i)
            .ok_or_else(|| XmlError::new(self.pos, what))
    }

    fn skip_past(&mut self, from: usize, needle: &str, what: &str) -> Result<(), XmlError> {
        let end = self.find(from, needle, what)?;
        self.pos = end + needle.len();
        Ok(())
    }

    /// Skips white space; says whether there was any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
        self.pos > start
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), XmlError> {
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(XmlError::new(self.pos, format!("expected {what}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

    #[test]
    fn elements_attributes_namespaces() -> Result<(), XmlError> {
        let doc = r#"<?xml version="1.0"?>
<!-- a comment -->
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="urn:default">
  <item rdf:about="urn:x" plain='1'>a &amp; b &#x41;&#66;<![CDATA[<raw>]]></item>
  <empty/>
</rdf:RDF>
"#;
        let root = parse(doc)?;
        assert!(root.is(RDF, "RDF"));
        let items: Vec<_> = root.elements().collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is("urn:default", "item"));
        assert_eq!(items[0].attr(RDF, "about"), Some("urn:x"));
        assert_eq!(items[0].attr("", "plain"), Some("1"));
        assert_eq!(items[0].text(), "a & b AB<raw>");
        assert!(items[1].is("urn:default", "empty"));
        Ok(())
    }

    #[test]
    fn doctype_entities_expand() -> Result<(), XmlError> {
        let doc = r#"<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
    <!ENTITY obo "http://purl.obolibrary.org/obo/" >
    <!ENTITY % param "ignored" >
    <!-- comment -->
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="&obo;DUO_0000042"/>
</rdf:RDF>"#;
        let root = parse(doc)?;
        let first = root.elements().next();
        assert_eq!(
            first.and_then(|e| e.attr(RDF, "about")),
            Some("http://purl.obolibrary.org/obo/DUO_0000042")
        );
        Ok(())
    }

    #[test]
    fn xml_prefix_is_predeclared() -> Result<(), XmlError> {
        let root = parse(r#"<a xml:lang="ja">x</a>"#)?;
        assert_eq!(root.attr(XML_NS, "lang"), Some("ja"));
        Ok(())
    }

    /// Each malformed document is an error, never a panic.
    #[test]
    fn malformed_documents_are_errors() {
        let cases = [
            "",
            "   ",
            "<",
            "<a",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "text",
            "<a>&unknown;</a>",
            "<a>&amp</a>",
            "<a>&#xFFFFFFFF;</a>",
            "<a>&#xD800;</a>",
            "<p:a/>",
            "<a p:x='1'/>",
            "<a x='1' x='2'/>",
            "<a x='1'y='2'/>",
            "<a x=1/>",
            "<a x='<'/>",
            "<!-- never closed",
            "<a><![CDATA[ never closed</a>",
            "<!DOCTYPE a [ <!ENTITY e 'x' ",
            "<?pi never closed",
            "<a/>trailing",
            "<a/><!DOCTYPE b>",
        ];
        for case in cases {
            assert!(parse(case).is_err(), "{case:?} should be an error");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let doc = "<a>".repeat(100_000);
        let error = parse(&doc).err();
        assert_eq!(
            error.map(|e| e.reason),
            Some("elements nest too deeply".to_owned())
        );
    }

    #[test]
    fn entity_expansion_is_bounded() {
        let big = "x".repeat(1024 * 1024);
        let refs = "&e;".repeat(64);
        let doc = format!("<!DOCTYPE a [<!ENTITY e '{big}'>]><a>{refs}</a>");
        assert!(parse(&doc).is_err());
    }
}
