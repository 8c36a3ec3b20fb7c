//! What the SQL stores (`store::sqlite`, `store::postgres`)
//! share: how a record maps to a row and back, how a batch of uses is reduced, and how
//! the shipped migrations are applied.
//!
//! Both keep one table, `portcullis_api_keys`, with one column per [`KeyRecord`] field
//! (the hash in two, algorithm and digest, under one unique index); only the SQL
//! around it differs.
//!
//! [`KeyRecord`]: crate::record::KeyRecord

mod migrate;
mod row;

#[cfg(test)]
pub(crate) use migrate::assert_ships_every_file;
pub(crate) use migrate::{Migration, pending};
pub(crate) use row::{Encoded, StoredRow, latest_uses, metadata_text, read_error};
