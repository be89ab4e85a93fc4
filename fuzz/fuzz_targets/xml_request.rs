//! The backup-client face's XML request parser on arbitrary documents: a tree or a refusal
//! with a message; a parsed tree written out parses back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::xml;

fuzz_target!(|data: &[u8]| {
    match xml::parse(data) {
        Ok(tree) => {
            let again = xml::parse(tree.to_document().as_bytes()).expect("written back, it parses");
            assert_eq!(again, tree);
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
