//! Whether a new schema of an event can replace its released one at the same version.
//!
//! The rules (docs/events/README.md): adding an optional field is compatible; removing or
//! renaming a field, changing what a field holds (its type, format, values or bounds), or
//! adding a required field is not, and needs a new version of the event. A new required field
//! breaks readers too: the log keeps every old event, and replaying one must still parse.

use serde_json::{Map, Value};

/// The incompatible changes from `released` to `new`, each naming its field; empty when `new`
/// may ship at the same version.
pub fn incompatible_changes(released: &Value, new: &Value) -> Vec<String> {
    let mut changes = Vec::new();
    compare("data", released, new, &mut changes);
    changes
}

fn compare(at: &str, released: &Value, new: &Value, changes: &mut Vec<String>) {
    let (Some(released), Some(new)) = (released.as_object(), new.as_object()) else {
        if released != new {
            changes.push(format!("{at} changed"));
        }
        return;
    };
    if shape(released) != shape(new) {
        changes.push(format!("{at} changed what it holds"));
    }
    let empty = Map::new();
    let properties = |schema: &Map<String, Value>| {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (old_fields, new_fields) = (properties(released), properties(new));
    let (old_required, new_required) = (required(released), required(new));
    for (name, old) in &old_fields {
        let path = format!("{at}.{name}");
        match new_fields.get(name) {
            None => changes.push(format!("{path} was removed")),
            Some(new) => compare(&path, old, new, changes),
        }
        if old_required.contains(name) != new_required.contains(name) {
            changes.push(format!("{path} changed whether it is required"));
        }
    }
    for name in new_fields.keys().filter(|n| !old_fields.contains_key(*n)) {
        if new_required.contains(name) {
            changes.push(format!(
                "{at}.{name} is new and required (a new field must be optional)"
            ));
        }
    }
    for keyword in ["items", "additionalProperties"] {
        if let (Some(old), Some(new)) = (released.get(keyword), new.get(keyword)) {
            compare(&format!("{at}[{keyword}]"), old, new, changes);
        }
    }
}

/// What a schema says a value is, without its documentation and without what is compared
/// field by field.
fn shape(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut shape = schema.clone();
    for key in [
        "description",
        "title",
        "$id",
        "$schema",
        "x-version",
        "properties",
        "required",
        "items",
        "additionalProperties",
    ] {
        shape.remove(key);
    }
    shape
}

fn required(schema: &Map<String, Value>) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn released() -> Value {
        json!({
            "type": "object",
            "required": ["call_id", "duration"],
            "properties": {
                "call_id": { "type": "string", "format": "uuid" },
                "duration": { "type": "integer", "minimum": 0, "description": "seconds" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "note": { "type": "string" }
            }
        })
    }

    fn changed(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut new = released();
        edit(&mut new);
        incompatible_changes(&released(), &new)
    }

    #[test]
    fn an_optional_field_and_new_words_are_compatible() {
        assert!(
            changed(|s| s["properties"]["campaign_id"] = json!({ "type": "string" })).is_empty()
        );
        assert!(
            changed(|s| s["properties"]["duration"]["description"] = json!("talk time")).is_empty()
        );
    }

    #[test]
    fn removing_renaming_retyping_or_requiring_a_field_is_not() {
        let removed = changed(|s| {
            s["properties"].as_object_mut().unwrap().remove("note");
        });
        assert_eq!(removed, ["data.note was removed"]);
        let renamed = changed(|s| {
            let note = s["properties"]
                .as_object_mut()
                .unwrap()
                .remove("note")
                .unwrap();
            s["properties"]["notes"] = note;
        });
        assert_eq!(renamed, ["data.note was removed"]);
        let retyped = changed(|s| s["properties"]["duration"]["type"] = json!("number"));
        assert_eq!(retyped, ["data.duration changed what it holds"]);
        let bounded = changed(|s| s["properties"]["duration"]["minimum"] = json!(1));
        assert_eq!(bounded, ["data.duration changed what it holds"]);
        let items = changed(|s| s["properties"]["tags"]["items"]["type"] = json!("integer"));
        assert_eq!(items, ["data.tags[items] changed what it holds"]);
        let required_new = changed(|s| {
            s["properties"]["agent_id"] = json!({ "type": "string" });
            s["required"] = json!(["call_id", "duration", "agent_id"]);
        });
        assert_eq!(
            required_new,
            ["data.agent_id is new and required (a new field must be optional)"]
        );
        let optional_now = changed(|s| s["required"] = json!(["call_id"]));
        assert_eq!(
            optional_now,
            ["data.duration changed whether it is required"]
        );
    }
}
