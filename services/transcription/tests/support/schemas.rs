//! The events' published JSON schemas (`docs/events/`), to check what the service records.

use std::path::Path;

use serde_json::Value;

pub fn validator(event_type: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/events")
        .join(format!("{event_type}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Panics naming what in `data` breaks its event's schema.
pub fn assert_valid(event_type: &str, data: &Value) {
    let errors: Vec<String> = validator(event_type)
        .iter_errors(data)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{event_type} {data}: {errors:?}");
}
