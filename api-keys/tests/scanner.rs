//! The published secret-scanner pattern finds generated keys, exactly, and nothing
//! that merely looks like one.

use portcullis_api_keys::format::{DEFAULT_SCANNER_PATTERN, Environment, KeyFormat};
use regex::Regex;

fn formats() -> Vec<KeyFormat> {
    vec![
        KeyFormat::default(),
        KeyFormat::default().environment(Environment::Test),
        KeyFormat::new("acme").unwrap().body_bits(128).unwrap(),
        KeyFormat::new("x9").unwrap().body_bits(512).unwrap(),
    ]
}

#[test]
fn the_default_pattern_is_the_default_formats() {
    assert_eq!(
        KeyFormat::default().scanner_pattern(),
        DEFAULT_SCANNER_PATTERN
    );
    Regex::new(DEFAULT_SCANNER_PATTERN).unwrap();
}

#[test]
fn generated_keys_are_found_whole_in_text() {
    for format in formats() {
        let scanner = Regex::new(&format.scanner_pattern()).unwrap();
        for _ in 0..200 {
            let key = format.generate();
            let key = key.expose_secret();
            for text in [
                key.to_owned(),
                format!("API_KEY={key}\n"),
                format!("{{\"api_key\":\"{key}\"}}"),
                format!("curl -H 'Authorization: Bearer {key}' https://api.example.com"),
                format!("const k = `{key}`;"),
                format!("key: {key}."),
                format!("«{key}»"),
            ] {
                let found: Vec<_> = scanner.find_iter(&text).map(|m| m.as_str()).collect();
                assert_eq!(found, [key], "in {text:?}");
            }
        }
    }
}

#[test]
fn near_misses_are_not_found() {
    for format in formats() {
        let scanner = Regex::new(&format.scanner_pattern()).unwrap();
        let key = format.generate();
        let key = key.expose_secret();
        let prefix = format.prefix();
        let tail = &key[prefix.len() + "_live_".len()..];
        let misses = [
            // One character short, one too many.
            key[..key.len() - 1].to_owned(),
            format!("{key}a"),
            format!("{key}_x"),
            // Glued to a word before.
            format!("x{key}"),
            format!("_{key}"),
            format!("9{key}"),
            // Another prefix, environment or case.
            format!("{prefix}x_live_{tail}"),
            format!("p{prefix}_live_{tail}"),
            format!("{prefix}_prod_{tail}"),
            format!("{prefix}_Live_{tail}"),
            key.to_uppercase(),
            // Characters outside base62 in the body.
            format!("{prefix}_live_-{}", &tail[1..]),
            format!("{prefix}_live_{}+{}", &tail[..10], &tail[11..]),
            format!("{prefix}_live_{}é", &tail[..tail.len() - 1]),
            // Separators changed.
            format!("{prefix}-live-{tail}"),
            format!("{prefix}_live{tail}"),
        ];
        for text in misses {
            assert!(!scanner.is_match(&text), "{text:?} matched {scanner}");
        }
    }
}

#[test]
fn what_the_scanner_finds_the_parser_can_confirm() {
    // A look-alike with the right shape but no valid checksum: the scanner finds it,
    // the parser rejects it, so a scanner that can run code drops it.
    let format = KeyFormat::default();
    let scanner = Regex::new(DEFAULT_SCANNER_PATTERN).unwrap();
    let look_alike = format!("sk_live_{}", "A".repeat(49));
    assert!(scanner.is_match(&look_alike));
    assert!(format.parse(&look_alike).is_err());
}

#[test]
fn logs_redact_every_generated_key_by_its_shape() {
    // What the audit log (and any log using `portcullis_core::secret`) replaces: keys
    // of every format, whole, wherever they are.
    use portcullis_core::secret::{SecretKind, find_secrets};
    for format in formats() {
        for _ in 0..200 {
            let key = format.generate();
            let key = key.expose_secret();
            let text = format!("note: {key}, see ?key={key}");
            let found: Vec<_> = find_secrets(&text)
                .map(|found| (found.kind, &text[found.range]))
                .collect();
            assert_eq!(
                found,
                [(SecretKind::ApiKey, key), (SecretKind::ApiKey, key)],
                "{text}"
            );
        }
    }
}
