//! API key parsing (`KeyFormat::parse`).
//!
//! Properties:
//! - an accepted key round-trips: it is exactly the text presented, of the format's
//!   length and `{prefix}_{live|test}_` head, re-parses to an equal `ParsedKey`, and
//!   neither its masked form nor its `Debug` output holds the secret body;
//! - a generated key parses, and the same key with any one byte replaced by another
//!   never does (CRC32 catches every burst error of 32 bits or fewer).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_api_keys::format::{Environment, KeyFormat};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    short_format: bool,
    test_environment: bool,
    key: &'a str,
    position: usize,
    replacement: u8,
}

fuzz_target!(|input: Input<'_>| {
    let format = if input.short_format {
        KeyFormat::new("acme").unwrap().body_bits(128).unwrap()
    } else {
        KeyFormat::default()
    };

    if let Ok(parsed) = format.parse(input.key) {
        let text = input.key;
        assert_eq!(parsed.expose_secret(), text);
        assert_eq!(text.len(), format.key_len());
        let head = format!("{}_{}_", format.prefix(), parsed.environment().as_str());
        assert!(text.starts_with(&head), "{text}");
        assert_eq!(parsed.prefix(), format.prefix());
        assert_eq!(format.parse(parsed.expose_secret()), Ok(parsed));
        let body = &text[head.len()..text.len() - 6];
        let masked = parsed.masked();
        assert!(!masked.as_str().contains(body), "{masked}");
        assert!(!format!("{parsed:?}").contains(body));
    }

    let environment = if input.test_environment {
        Environment::Test
    } else {
        Environment::Live
    };
    let generated = format.clone().environment(environment).generate();
    let text = generated.expose_secret();
    let parsed = format.parse(text).expect("a generated key parses");
    assert_eq!(parsed.environment(), environment);
    let mut mutated = text.as_bytes().to_vec();
    let position = input.position % mutated.len();
    if mutated[position] != input.replacement {
        mutated[position] = input.replacement;
        if let Ok(mutated) = std::str::from_utf8(&mutated) {
            assert!(
                format.parse(mutated).is_err(),
                "a key with byte {position} changed still parses: {mutated}"
            );
        }
    }
});
