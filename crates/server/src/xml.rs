//! A small XML element tree for the backup-client face: requests are parsed into it (only
//! elements and attributes matter there) and responses are built from it.
//!
//! Parsing refuses what could make a parser work hard or reach outside the document: any
//! DOCTYPE (so no entity definitions, no entity expansion), entity references other than the
//! predefined ones, more than [`MAX_DEPTH`] levels or [`MAX_ELEMENTS`] elements.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer, XmlVersion};

pub const MAX_DEPTH: usize = 32;
pub const MAX_ELEMENTS: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    pub fn attr(mut self, key: &str, value: impl ToString) -> Self {
        self.attrs.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first child of that name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The document, with an XML declaration.
    pub fn to_document(&self) -> String {
        let mut w = Writer::new(Vec::new());
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        self.write(&mut w);
        String::from_utf8(w.into_inner()).unwrap_or_default()
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) {
        let mut start = BytesStart::new(self.name.as_str());
        for (k, v) in &self.attrs {
            start.push_attribute((k.as_str(), v.as_str()));
        }
        if self.children.is_empty() {
            let _ = w.write_event(Event::Empty(start));
        } else {
            let _ = w.write_event(Event::Start(start));
            for c in &self.children {
                c.write(w);
            }
            let _ = w.write_event(Event::End(BytesEnd::new(self.name.as_str())));
        }
    }
}

fn element_from(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = start.name().as_ref().to_owned();
    let mut el = Element::new(&name);
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("malformed attribute: {e}"))?;
        let key = attr.key.as_ref().to_owned();
        // Only the predefined entities and character references resolve; anything else fails.
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("malformed attribute value: {e}"))?;
        el.attrs.push((key, value.into_owned()));
    }
    Ok(el)
}

/// Parses a document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        match event {
            Event::DocType(_) => return Err("DTDs and entity definitions are not accepted".into()),
            Event::Start(start) | Event::Empty(start) if stack.len() >= MAX_DEPTH => {
                let _ = start;
                return Err(format!("XML nested deeper than {MAX_DEPTH} levels"));
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!("XML with more than {MAX_ELEMENTS} elements"));
                }
                stack.push(element_from(&start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!("XML with more than {MAX_ELEMENTS} elements"));
                }
                let el = element_from(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return finish(&mut reader, el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return finish(&mut reader, el),
                }
            }
            Event::GeneralRef(r) => {
                let name = r.as_ref().to_owned();
                let predefined = matches!(name.as_str(), "amp" | "lt" | "gt" | "quot" | "apos")
                    || name.starts_with('#');
                if !predefined {
                    return Err(format!("undefined entity &{name};"));
                }
            }
            Event::Eof => return Err("the XML document has no root element".into()),
            _ => {}
        }
    }
}

/// After the root element only whitespace, comments and processing instructions may follow.
fn finish(reader: &mut Reader<&[u8]>, root: Element) -> Result<Element, String> {
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("malformed XML: {e}"))?
        {
            Event::Eof => return Ok(root),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if t.xml10_content().trim().is_empty() => {}
            _ => return Err("content after the root element".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attributes_and_children() {
        let el = parse(br#"<?xml version="1.0"?><A x="1 &amp; 2"><B y="&#65;"/><C><D/></C></A>"#)
            .unwrap();
        assert_eq!(el.name, "A");
        assert_eq!(el.get("x"), Some("1 & 2"));
        assert_eq!(el.find("B").unwrap().get("y"), Some("A"));
        assert!(el.find("C").unwrap().find("D").is_some());
    }

    #[test]
    fn refuses_dtds_entities_and_junk() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz a="&lol2;"/>"#;
        assert!(parse(bomb).unwrap_err().contains("DTD"));
        assert!(parse(br#"<a x="&ext;"/>"#).is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn writes_escaped_documents() {
        let doc = Element::new("R")
            .attr("m", "a<b & \"c\"")
            .child(Element::new("E"))
            .to_document();
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert_eq!(parse(doc.as_bytes()).unwrap().get("m"), Some("a<b & \"c\""));
    }
}
