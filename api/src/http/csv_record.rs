//! CSV for the exports: one record at a time, so a streamed export never holds the file.

use axum::body::Bytes;

/// One CSV record, quoted as RFC 4180 says (by the csv crate). Text a spreadsheet would run as
/// a formula (a VM named `=HYPERLINK(…)`) is prefixed with `'`, as OWASP advises; numbers are
/// left alone.
pub fn record(fields: impl Iterator<Item = String>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(fields.map(inert));
    Bytes::from(writer.into_inner().unwrap_or_default())
}

fn inert(field: String) -> String {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && field.parse::<f64>().is_err() {
        format!("'{field}")
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        let line = record(
            ["=1+2", "@SUM(A1)", "-12.5", "plain, with comma", "+x"]
                .map(str::to_owned)
                .into_iter(),
        );
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "'=1+2,'@SUM(A1),-12.5,\"plain, with comma\",'+x\n"
        );
    }
}
