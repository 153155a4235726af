//! Contacts from a CSV file (RFC 4180, UTF-8, a header row): the columns `name` and `phone` are
//! required; `phones` (more numbers, separated by `;`), `language`, `time_zone`, `external_id`,
//! `consent` and `do_not_call` are known; any other column becomes a custom field. A row that
//! cannot be read (a wrong number of cells, bad UTF-8, a yes/no that is neither) is rejected
//! here with its reasons; the campaigns service checks the rest.

use std::collections::HashMap;

use comms_proto::{ApiError, v1};

const KNOWN: [&str; 8] = [
    "name",
    "phone",
    "phones",
    "language",
    "time_zone",
    "external_id",
    "consent",
    "do_not_call",
];

/// Where a row is: its number among the data rows (1-based, the header not counted), and the
/// line of the file it starts on (the header is line 1; a quoted cell may span lines), which is
/// what an operator looking at the file in an editor goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub row: u32,
    pub line: u32,
}

/// A row's place and each field's problem.
pub type Rejected = (Place, Vec<(String, String)>);

#[derive(Debug, Default)]
pub struct Parsed {
    /// Readable rows, with their places.
    pub rows: Vec<(Place, v1::ContactFields)>,
    pub rejected: Vec<Rejected>,
}

fn yes_no(field: &str, value: &str) -> Result<Option<bool>, (String, String)> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "y" | "1" => Ok(Some(true)),
        "false" | "no" | "n" | "0" => Ok(Some(false)),
        other => Err((
            field.to_owned(),
            format!("{other:?} is not yes or no (true/false, yes/no, 1/0)"),
        )),
    }
}

/// The line of the file at a byte offset, as an editor shows it: `\r\n`, `\r` and `\n` each
/// end a line (the CSV reader's own count knows only `\n`, and a file saved with `\r` alone
/// would be all line 1). Offsets are asked for in increasing order.
struct LineCounter<'a> {
    body: &'a [u8],
    counted_to: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            counted_to: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> u32 {
        let end = offset.min(self.body.len());
        for at in self.counted_to..end {
            match self.body[at] {
                b'\r' => self.line += 1,
                b'\n' if at == 0 || self.body[at - 1] != b'\r' => self.line += 1,
                _ => {}
            }
        }
        self.counted_to = self.counted_to.max(end);
        self.line
    }
}

/// Reads the file; a missing or unusable header refuses the whole file.
pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| ApiError::invalid("file", format!("the header row cannot be read: {e}")))?
        .clone();
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim().to_ascii_lowercase(), i))
        .collect();
    for required in ["name", "phone"] {
        if !columns.contains_key(required) {
            return Err(ApiError::invalid(
                "file",
                format!(
                    "the header row has no {required:?} column (columns: name, phone, phones, language, time_zone, external_id, consent, do_not_call, and any custom field)"
                ),
            ));
        }
    }
    if columns.len() != headers.len() {
        return Err(ApiError::invalid(
            "file",
            "the header row names a column twice",
        ));
    }
    let mut parsed = Parsed::default();
    let mut lines = LineCounter::new(body);
    let mut last_line = 1;
    for (index, record) in reader.byte_records().enumerate() {
        let position = match &record {
            Ok(record) => record.position(),
            Err(e) => e.position(),
        };
        // A record the reader could not place follows the one before it.
        last_line = position.map_or(last_line + 1, |p| lines.line_at(p.byte() as usize));
        let row = Place {
            row: index as u32 + 1,
            line: last_line,
        };
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                parsed
                    .rejected
                    .push((row, vec![("row".into(), format!("cannot be read: {e}"))]));
                continue;
            }
        };
        if record.len() != headers.len() {
            parsed.rejected.push((
                row,
                vec![(
                    "row".into(),
                    format!(
                        "has {} cells; the header has {}",
                        record.len(),
                        headers.len()
                    ),
                )],
            ));
            continue;
        }
        let record = match csv::StringRecord::from_byte_record(record) {
            Ok(record) => record,
            Err(_) => {
                parsed
                    .rejected
                    .push((row, vec![("row".into(), "is not valid UTF-8".into())]));
                continue;
            }
        };
        let cell = |name: &str| columns.get(name).map_or("", |&i| &record[i]).to_owned();
        let mut problems = Vec::new();
        let mut phones = vec![cell("phone")];
        phones.extend(
            cell("phones")
                .split(';')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
        );
        phones.retain(|p| !p.is_empty());
        let consent = yes_no("consent", &cell("consent")).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        let do_not_call = yes_no("do_not_call", &cell("do_not_call")).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        if !problems.is_empty() {
            parsed.rejected.push((row, problems));
            continue;
        }
        let custom_fields = headers
            .iter()
            .enumerate()
            .filter(|(_, name)| !KNOWN.contains(&name.trim().to_ascii_lowercase().as_str()))
            .filter(|(i, _)| !record[*i].is_empty())
            .map(|(i, name)| (name.trim().to_owned(), record[i].to_owned()))
            .collect();
        parsed.rows.push((
            row,
            v1::ContactFields {
                name: cell("name"),
                phones,
                language: cell("language"),
                time_zone: cell("time_zone"),
                custom_fields,
                consent,
                do_not_call: do_not_call.unwrap_or(false),
                external_id: cell("external_id"),
            },
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_and_bad_ones_named() {
        let file = "name,phone,language,consent,plan\n\
                    Ada,+14155550100,en,yes,gold\n\
                    Bob,+14155550101\n\
                    Cy,+14155550102,es,maybe,\n";
        let parsed = parse(file.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        let (place, ada) = &parsed.rows[0];
        assert_eq!(*place, Place { row: 1, line: 2 });
        assert_eq!(ada.consent, Some(true));
        assert_eq!(
            ada.custom_fields.get("plan").map(String::as_str),
            Some("gold")
        );
        assert_eq!(parsed.rejected[0].0, Place { row: 2, line: 3 });
        assert_eq!(parsed.rejected[0].1[0].1, "has 2 cells; the header has 5");
        assert_eq!(parsed.rejected[1].0, Place { row: 3, line: 4 });
        assert_eq!(parsed.rejected[1].1[0].0, "consent");
    }

    #[test]
    fn a_row_with_a_cell_over_two_lines_is_placed_by_the_line_it_starts_on() {
        let file =
            "name,phone,notes\nAda,+14155550100,\"first line\nsecond line\"\nBob,+14155550101,\n";
        let parsed = parse(file.as_bytes()).unwrap();
        let places: Vec<Place> = parsed.rows.iter().map(|(place, _)| *place).collect();
        assert_eq!(
            places,
            [Place { row: 1, line: 2 }, Place { row: 2, line: 4 }]
        );
    }

    #[test]
    fn lines_end_as_an_editor_ends_them() {
        let file = "name,phone\r\nAda,+14155550100\rBob,+14155550101\nCy,+14155550102\r\n";
        let parsed = parse(file.as_bytes()).unwrap();
        let lines: Vec<u32> = parsed.rows.iter().map(|(place, _)| place.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        // Found by the fuzzer: a header ended by a lone `\r`.
        let parsed = parse(b"name,phone,64\"4(p\xd5\xac,ay\r,Rbe,,\n").unwrap();
        let (place, _) = &parsed.rows[0];
        assert_eq!(*place, Place { row: 1, line: 2 });
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused() {
        let err = parse(b"full_name,number\nAda,+14155550100\n").unwrap_err();
        assert!(
            err.message.contains("no \"name\" column"),
            "{}",
            err.message
        );
    }
}
