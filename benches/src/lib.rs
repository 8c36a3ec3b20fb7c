//! Benches live in `benches/`; run them with `cargo bench -p portcullis-benches`.
//!
//! Every bench measures a Portcullis layer and its peer in the same run, so the ratio
//! between them is what to read, not the absolute times.
