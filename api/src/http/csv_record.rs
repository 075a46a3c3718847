//! CSV for the exports: one record at a time, so a streamed export never holds the file.

use axum::body::Bytes;

/// One CSV record, quoted as RFC 4180 says (by the csv crate).
pub fn record(fields: impl Iterator<Item = String>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(fields);
    Bytes::from(writer.into_inner().unwrap_or_default())
}
