//! Property tests of the backup-client face's XML request parser (`strongroom_server::xml`):
//! any element tree the face writes parses back the same; arbitrary or mutated documents
//! parse or are refused with a message, never a panic; the depth and size limits hold.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use strongroom_server::xml::{self, Element, MAX_DEPTH, MAX_ELEMENTS};

/// Attribute values: any text XML 1.0 can carry in an attribute unchanged (no control
/// characters, which XML forbids, and no tab or line break, which attribute normalisation
/// turns into spaces), markup characters included.
fn text() -> impl Strategy<Value = String> {
    "[^\\x00-\\x1f\\x7f]{0,24}"
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.-]{0,12}"
}

fn element() -> impl Strategy<Value = Element> {
    let leaf = (name(), btree_map(name(), text(), 0..4)).prop_map(|(name, attrs)| Element {
        name,
        attrs: attrs.into_iter().collect(),
        children: Vec::new(),
    });
    leaf.prop_recursive(4, 32, 4, |inner| {
        (name(), btree_map(name(), text(), 0..4), vec(inner, 0..4)).prop_map(
            |(name, attrs, children)| Element {
                name,
                attrs: attrs.into_iter().collect(),
                children,
            },
        )
    })
}

fn assert_clear(result: &Result<Element, String>) {
    if let Err(message) = result {
        assert!(!message.is_empty(), "a refusal says why");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_trees_parse_back_the_same(tree in element()) {
        let document = tree.to_document();
        prop_assert_eq!(xml::parse(document.as_bytes()).expect("parses"), tree);
    }

    #[test]
    fn arbitrary_bytes_parse_or_are_refused(bytes in vec(any::<u8>(), 0..1024)) {
        assert_clear(&xml::parse(&bytes));
    }

    #[test]
    fn mutated_documents_parse_or_are_refused(
        tree in element(),
        changes in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let mut bytes = tree.to_document().into_bytes();
        for (at, byte) in changes {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        assert_clear(&xml::parse(&bytes));
    }

    /// Markup-like text in the places that matter: DOCTYPEs, entities, CDATA, comments,
    /// processing instructions, around and inside a request element.
    #[test]
    fn hostile_pieces_parse_or_are_refused(
        pieces in vec(prop::sample::select(vec![
            "<!DOCTYPE x [<!ENTITY e \"v\">]>", "&e;", "&amp;", "&#x41;", "&#0;", "&#xFFFFFFFF;",
            "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>", "<a>", "</a>", "<a/>", "<b x=\"1\" x=\"2\"/>",
            "<a x='&lt;'>", "\u{feff}", "<?xml version=\"1.0\"?>", "<\u{e9}/>", "]]>", "<", ">",
        ]), 0..12),
    ) {
        assert_clear(&xml::parse(pieces.concat().as_bytes()));
    }
}

#[test]
fn limits_hold() {
    let deep = format!(
        "{}{}",
        "<a>".repeat(MAX_DEPTH + 1),
        "</a>".repeat(MAX_DEPTH + 1)
    );
    assert!(xml::parse(deep.as_bytes()).unwrap_err().contains("deeper"));
    let wide = format!("<r>{}</r>", "<a/>".repeat(MAX_ELEMENTS + 1));
    assert!(
        xml::parse(wide.as_bytes())
            .unwrap_err()
            .contains("more than")
    );
    let just = format!("<r>{}</r>", "<a/>".repeat(MAX_ELEMENTS - 1));
    assert!(xml::parse(just.as_bytes()).is_ok());
}
