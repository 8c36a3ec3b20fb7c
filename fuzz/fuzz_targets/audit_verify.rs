//! The audit verifier's line parser and chain checks (`verify_contents`).
//!
//! A chained file of 1 to 8 records is written in memory with the crate's `Chain`,
//! then changed by fuzzed edits (replace, insert or delete bytes). Properties:
//! - the untouched file verifies clean;
//! - a changed file never verifies clean (as live, integrity only), unless its
//!   non-empty lines but the last are exactly the first original lines, with the
//!   final newline kept. A record's hash is held by the next record's `prev_hash`, so
//!   the last line of a live (unsealed) file is vouched for by nothing yet, and a
//!   live file may lose records at its end undetected; the sealing checkpoint,
//!   required when not live, is what fixes the end, and the genesis (or a signed
//!   `open` checkpoint) the start. (The fuzzer found exactly that first: an edit to
//!   the last record of a live file.)
//! - arbitrary bytes as a file, live or sealed, never panic the verifier.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_audit_log::chain::Chain;
use portcullis_audit_log::verify::{VerifyOptions, verify_contents};

#[derive(Arbitrary, Debug)]
enum Edit<'a> {
    Replace(u16, u8),
    Insert(u16, &'a [u8]),
    Delete(u16, u8),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    records: u8,
    fields: Vec<&'a str>,
    edits: Vec<Edit<'a>>,
    raw: &'a [u8],
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()).collect()
}

fuzz_target!(|input: Input<'_>| {
    // No checkpoint and no key: the chain's integrity only.
    let options = VerifyOptions::new().live(true).integrity_only(true);
    let _ = verify_contents(&[("raw.log".into(), input.raw.to_vec())], &options);
    let _ = verify_contents(&[("raw.log".into(), input.raw.to_vec())], &VerifyOptions::new());

    let mut chain = Chain::sha256();
    let mut file = Vec::new();
    for n in 0..=usize::from(input.records % 8) {
        let field = input.fields.get(n).copied().unwrap_or("");
        let mut line = serde_json::to_vec(&serde_json::json!({ "n": n, "field": field })).unwrap();
        chain.append(&mut line);
        file.extend_from_slice(&line);
        file.push(b'\n');
    }
    let clean = verify_contents(&[("audit.log".into(), file.clone())], &options).unwrap();
    assert!(clean.is_clean(), "{clean:?}");

    let mut changed = file.clone();
    for edit in input.edits.iter().take(4) {
        match *edit {
            Edit::Replace(at, byte) => {
                if !changed.is_empty() {
                    let at = usize::from(at) % changed.len();
                    changed[at] = byte;
                }
            }
            Edit::Insert(at, bytes) => {
                let at = usize::from(at) % (changed.len() + 1);
                changed.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(at, len) => {
                if !changed.is_empty() {
                    let at = usize::from(at) % changed.len();
                    let end = (at + usize::from(len) + 1).min(changed.len());
                    changed.drain(at..end);
                }
            }
        }
    }
    let original = lines(&file);
    let kept = lines(&changed);
    let ends_well = changed.is_empty() || changed.ends_with(b"\n");
    let vouched = &kept[..kept.len().saturating_sub(1)];
    if ends_well && original.starts_with(vouched) {
        return;
    }
    let verdict = verify_contents(&[("audit.log".into(), changed.clone())], &options);
    if let Ok(report) = verdict {
        assert!(
            !report.is_clean(),
            "a changed file verified clean: {:?}",
            String::from_utf8_lossy(&changed)
        );
    }
});
