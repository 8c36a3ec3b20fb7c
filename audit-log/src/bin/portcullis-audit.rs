//! `portcullis-audit verify [--public-key KEY]... [--chain-key KEY] [--live]
//! [--integrity-only] FILE...`
//!
//! Checks audit files written with the hash chain on, and prints each finding on its
//! own line (`modified:`, `deleted:`, `reordered:`, `truncated:`, `gap:`,
//! `untrusted:`, …), `note:` lines, and a summary; the output is described in the
//! `verify` module's docs (`portcullis_audit_log::verify`, "The `portcullis-audit
//! verify` command"). Exit status: 0 when nothing was found, 1 when something was
//! (a missing trusted key included, unless `--integrity-only`), 2 on a usage or read
//! error. KEY is hex, or a file holding hex (for `--public-key`, one key or several,
//! one per line).

use std::process::ExitCode;

use portcullis_audit_log::chain::parse_public_key;
use portcullis_audit_log::verify::{VerifyOptions, verify_files};

const USAGE: &str = "usage: portcullis-audit verify [--public-key HEX|FILE]... [--chain-key HEX|FILE] [--live] [--integrity-only] FILE...";

fn key_text(value: &str) -> String {
    match std::fs::read_to_string(value) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => value.trim().to_owned(),
    }
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("verify") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut options = VerifyOptions::new();
    let mut files = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--public-key" => {
                let text = args.next().map(|v| key_text(&v)).unwrap_or_default();
                let keys: Option<Vec<_>> = text.split_whitespace().map(parse_public_key).collect();
                let Some(keys) = keys.filter(|keys| !keys.is_empty()) else {
                    eprintln!(
                        "--public-key needs an Ed25519 public key: 64 hex digits, or a file holding them (one key a line)"
                    );
                    return ExitCode::from(2);
                };
                for key in keys {
                    options = options.public_key(key);
                }
            }
            "--chain-key" => {
                let Some(key) = args
                    .next()
                    .map(|v| key_text(&v))
                    .as_deref()
                    .and_then(hex_bytes)
                else {
                    eprintln!("--chain-key needs the chain key in hex, or a file holding it");
                    return ExitCode::from(2);
                };
                options = options.chain_key(key);
            }
            "--live" => options = options.live(true),
            "--integrity-only" => options = options.integrity_only(true),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with("--") => {
                eprintln!("unknown option {flag}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let report = match verify_files(&files, &options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    for finding in &report.findings {
        println!("{finding}");
    }
    if let (Some(from), Some((first, _))) = (report.continues_from, report.seq_range) {
        println!(
            "note: the files start at seq {first}, an `open` checkpoint continuing seq {from} of an older file that was not given"
        );
    }
    if let Some((first, last)) = report.unsealed {
        println!(
            "note: live: seq {first}..={last} come after the last checkpoint: nothing signed vouches for them yet, so they could be cut or changed unnoticed"
        );
    }
    let range = report.seq_range.map_or_else(
        || "none".to_owned(),
        |(first, last)| format!("{first}..={last}"),
    );
    let verdict = match report.findings.len() {
        0 if report.trusted => "OK".to_owned(),
        0 => "OK (integrity only: no trusted key)".to_owned(),
        n => format!("{n} finding(s)"),
    };
    println!(
        "{} file(s), {} chained line(s) (seq {range}), {} checkpoint(s), {} signature(s) verified{}: {verdict}",
        report.files,
        report.records,
        report.checkpoints,
        report.signed_checkpoints,
        if report.trusted {
            ""
        } else {
            " (by the keys in the files only)"
        },
    );
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
