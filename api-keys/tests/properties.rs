//! Properties of the key format: parsing never panics and never accepts what was not
//! generated; generated keys always parse; any single change is caught.

use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::hash::KeyHasher;
use proptest::prelude::*;

const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn format() -> impl Strategy<Value = KeyFormat> {
    (
        "[a-z0-9]{1,16}",
        prop_oneof![Just(Environment::Live), Just(Environment::Test)],
        (16u32..=64).prop_map(|bytes| bytes * 8),
    )
        .prop_map(|(prefix, environment, bits)| {
            KeyFormat::new(prefix)
                .unwrap()
                .environment(environment)
                .body_bits(bits)
                .unwrap()
        })
}

/// Characters a change may put in a key: base62, separators, look-alikes, non-ASCII.
fn replacement() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::sample::select(BASE62.chars().collect::<Vec<_>>()),
        1 => proptest::sample::select(vec!['_', '-', ' ', '+', '/', '=', '.', '\0', 'é', '…', 'ſ', 'K']),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_and_never_parses(text in any::<String>()) {
        prop_assert!(KeyFormat::default().parse(&text).is_err());
    }

    #[test]
    fn key_shaped_text_never_parses(
        text in "sk_(live|test)_[0-9A-Za-z]{49}",
    ) {
        // The right shape with a random checksum: 1 chance in 62^6 of a match.
        prop_assert!(KeyFormat::default().parse(&text).is_err());
    }

    #[test]
    fn text_with_a_valid_head_never_parses(
        format in format(),
        tail in "[0-9A-Za-z_]{0,100}",
    ) {
        let text = format!("{}_live_{tail}", format.prefix());
        prop_assert!(format.parse(&text).is_err());
    }

    #[test]
    fn generated_keys_always_parse(format in format()) {
        let key = format.generate();
        let parsed = format.parse(key.expose_secret());
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.expose_secret(), key.expose_secret());
        prop_assert_eq!(parsed.environment(), key.environment());
        prop_assert_eq!(parsed.prefix(), format.prefix());
        prop_assert_eq!(key.expose_secret().len(), format.key_len());
        prop_assert_eq!(parsed.masked(), key.masked());
        let hasher = KeyHasher::sha256();
        prop_assert_eq!(hasher.hash(&parsed), hasher.hash(&key.parsed()));
    }

    #[test]
    fn any_single_character_change_is_rejected(
        format in format(),
        position in any::<proptest::sample::Index>(),
        replacement in replacement(),
    ) {
        let key = format.generate();
        let mut chars: Vec<char> = key.expose_secret().chars().collect();
        let i = position.index(chars.len());
        prop_assume!(chars[i] != replacement);
        chars[i] = replacement;
        let changed: String = chars.into_iter().collect();
        let result = format.parse(&changed);
        prop_assert!(result.is_err(), "{} at {} accepted", replacement, i);
    }

    #[test]
    fn any_deleted_or_inserted_character_is_rejected(
        format in format(),
        position in any::<proptest::sample::Index>(),
        inserted in replacement(),
    ) {
        let key = format.generate();
        let text = key.expose_secret();
        let i = position.index(text.len());
        let deleted = format!("{}{}", &text[..i], &text[i + 1..]);
        prop_assert!(format.parse(&deleted).is_err());
        let grown = format!("{}{inserted}{}", &text[..i], &text[i..]);
        prop_assert!(format.parse(&grown).is_err());
    }

    #[test]
    fn adjacent_swaps_are_rejected(
        format in format(),
        position in any::<proptest::sample::Index>(),
    ) {
        let key = format.generate();
        let mut bytes = key.expose_secret().as_bytes().to_vec();
        let i = position.index(bytes.len() - 1);
        prop_assume!(bytes[i] != bytes[i + 1]);
        bytes.swap(i, i + 1);
        let swapped = String::from_utf8(bytes).unwrap();
        prop_assert!(format.parse(&swapped).is_err());
    }

    #[test]
    fn keys_of_another_format_are_rejected(a in format(), b in format()) {
        prop_assume!(a.prefix() != b.prefix() || a.key_len() != b.key_len());
        let key = a.generate();
        prop_assert!(b.parse(key.expose_secret()).is_err());
    }

    #[test]
    fn masks_show_only_prefix_environment_and_last_four(format in format()) {
        let key = format.generate();
        let secret = key.expose_secret();
        let head = format!("{}_{}_", format.prefix(), key.environment());
        let expected = format!("{head}…{}", &secret[secret.len() - 4..]);
        prop_assert_eq!(key.to_string(), expected.clone());
        prop_assert_eq!(format!("{key:?}"), format!("PlaintextKey({expected})"));
        prop_assert_eq!(key.masked().to_string(), expected);
        let hidden = &secret[head.len()..secret.len() - 4];
        let shown = format!("{key:?} {key}");
        prop_assert!(!shown.contains(hidden));
    }
}
