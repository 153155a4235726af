//! `docs/events/` is generated from the types: each typed event's schema, and the catalog table
//! in its README. A payload changed without regenerating fails here; regenerating
//! (`UPDATE_EVENT_SCHEMAS=1 cargo test -p comms-events --test schemas`) shows the change as a
//! schema diff in review. A change that breaks a released version fails until the event gets a
//! new version (`docs/events/released/` holds each version's schema as released; releasing
//! freezes the new ones with `RELEASE_EVENT_SCHEMAS=1`).

use std::path::{Path, PathBuf};

use comms_events::{CatalogEntry, catalog, compat::incompatible_changes, consumed_catalog};
use serde_json::Value;

/// The README's generated tables: what the fleet publishes, and what it consumes.
const TABLES: [(&str, &str); 2] = [
    (
        "<!-- catalog: generated from crates/events; do not edit -->",
        "<!-- catalog end -->",
    ),
    (
        "<!-- consumed: generated from crates/events; do not edit -->",
        "<!-- consumed end -->",
    ),
];

/// Every event of the contract: published, then consumed.
fn everything() -> Vec<CatalogEntry> {
    [catalog(), consumed_catalog()].concat()
}

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_EVENT_SCHEMAS").is_some()
}

fn pretty(schema: &Value) -> String {
    serde_json::to_string_pretty(schema).unwrap() + "\n"
}

/// Writes `text` to `path` when updating; otherwise says whether the file differs.
fn check(path: &Path, text: &str, stale: &mut Vec<String>) {
    if updating() {
        std::fs::write(path, text).unwrap();
    } else if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        stale.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
}

fn catalog_table(entries: &[CatalogEntry]) -> String {
    let mut table = String::from("| type | version | when | schema |\n|---|---|---|---|\n");
    for entry in entries {
        table += &format!(
            "| `{0}` | {1} | {2} | [data]({0}.schema.json) |\n",
            entry.event_type, entry.version, entry.when
        );
    }
    table
}

#[test]
fn the_committed_schemas_and_catalog_are_what_the_types_generate() {
    let mut stale = Vec::new();
    for entry in &everything() {
        let path = docs().join(format!("{}.schema.json", entry.event_type));
        check(&path, &pretty(&entry.schema), &mut stale);
    }
    let readme_path = docs().join("README.md");
    let mut readme = std::fs::read_to_string(&readme_path).unwrap();
    for ((start, end), entries) in TABLES.iter().zip([catalog(), consumed_catalog()]) {
        let (before, rest) = readme.split_once(start).expect("a table's start marker");
        let (_, after) = rest.split_once(end).expect("a table's end marker");
        readme = format!("{before}{start}\n{}{end}{after}", catalog_table(&entries));
    }
    check(&readme_path, &readme, &mut stale);
    assert!(
        stale.is_empty(),
        "docs/events differs from what crates/events generates: {stale:?}; run \
         `UPDATE_EVENT_SCHEMAS=1 cargo test -p comms-events --test schemas` and review the diff"
    );
}

#[test]
fn no_payload_change_breaks_a_released_version() {
    let mut broken = Vec::new();
    for entry in everything() {
        let name = format!("{}.v{}.schema.json", entry.event_type, entry.version);
        let path = docs().join("released").join(&name);
        let Ok(released) = std::fs::read_to_string(&path) else {
            // Not released yet: free to change. Releasing freezes it (docs/events/README.md).
            if std::env::var_os("RELEASE_EVENT_SCHEMAS").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, pretty(&entry.schema)).unwrap();
            }
            continue;
        };
        let released: Value = serde_json::from_str(&released).unwrap();
        for change in incompatible_changes(&released, &entry.schema) {
            broken.push(format!(
                "{} version {}: {change}",
                entry.event_type, entry.version
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "incompatible with the released schema; give the event a new version instead \
         (docs/events/README.md, Versioning):\n{}",
        broken.join("\n")
    );
}
