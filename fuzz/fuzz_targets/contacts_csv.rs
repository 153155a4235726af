//! Any bytes as an imported contacts file: never a panic; every row is either read or rejected
//! with its reasons, once, under its own row number, placed on a line of the file after the
//! header, later rows on later lines; no empty number is passed on.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The edge's own parser, compiled from its file: the instrumented build then needs the parser's
// few crates, not the edge and its servers.
#[path = "../../services/edge/src/contacts_csv.rs"]
mod contacts_csv;

fuzz_target!(|body: &[u8]| {
    let Ok(parsed) = contacts_csv::parse(body) else {
        return;
    };
    let mut places: Vec<_> = parsed.rows.iter().map(|(p, _)| *p).collect();
    places.extend(parsed.rejected.iter().map(|(p, _)| *p));
    places.sort_unstable_by_key(|p| p.row);
    for pair in places.windows(2) {
        assert!(pair[0].line < pair[1].line, "a later row on an earlier line");
    }
    assert!(places.iter().all(|p| p.line >= 2), "rows start after the header");
    let mut numbers: Vec<u32> = places.iter().map(|p| p.row).collect();
    let count = numbers.len();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), count, "a row number appears twice");
    assert!(numbers.iter().all(|n| *n >= 1), "row numbers start at 1");
    for (_, reasons) in &parsed.rejected {
        assert!(!reasons.is_empty(), "a rejected row says why");
    }
    // Read rows go to the campaigns service, which checks their fields (an empty phone cell
    // included); no empty number is passed on.
    for (_, fields) in &parsed.rows {
        assert!(fields.phones.iter().all(|p| !p.is_empty()));
    }
});
