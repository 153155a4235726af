//! Stream names and expected versions.

use std::fmt;

use uuid::Uuid;

use crate::Error;

/// `<category>-<uuid>`, e.g. `call-0190…`. The category is lowercase ASCII letters and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamName {
    name: String,
    category_len: usize,
}

impl StreamName {
    pub fn new(category: &str, id: Uuid) -> Self {
        debug_assert!(
            is_category(category),
            "invalid stream category {category:?}"
        );
        Self {
            name: format!("{category}-{id}"),
            category_len: category.len(),
        }
    }

    pub fn parse(name: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidStreamName(name.to_owned());
        let (category, id) = name.split_once('-').ok_or_else(invalid)?;
        if !is_category(category) || Uuid::parse_str(id).is_err() {
            return Err(invalid());
        }
        Ok(Self {
            name: name.to_owned(),
            category_len: category.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn category(&self) -> &str {
        &self.name[..self.category_len]
    }

    pub fn id(&self) -> Uuid {
        // Checked on construction.
        Uuid::parse_str(&self.name[self.category_len + 1..]).expect("stream id is a uuid")
    }
}

fn is_category(category: &str) -> bool {
    !category.is_empty()
        && category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What the writer believes the stream's version (position of its last event) to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must be at this position (positions start at 0).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(version) => write!(f, "{version}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_category_and_id() {
        let id = Uuid::new_v4();
        let stream = StreamName::parse(&format!("call-{id}")).unwrap();
        assert_eq!(stream.category(), "call");
        assert_eq!(stream.id(), id);
        assert_eq!(stream, StreamName::new("call", id));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "call",
            "call-",
            "Call-0190",
            "call-not-a-uuid",
            "-0190",
            "ca ll-x",
        ] {
            assert!(StreamName::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
