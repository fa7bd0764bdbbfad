#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(tree) = odata_parser::parse_target(s) {
            // Printing must never panic, and the printed form must parse to the same tree.
            let printed = tree.to_string();
            match odata_parser::parse_target(&printed) {
                Ok(again) => assert_eq!(again, tree, "round trip of {s:?} via {printed:?}"),
                Err(e) => panic!("printed form of {s:?} does not parse: {printed:?}: {e}"),
            }
        }
    }
});
