//! Cursor pagination, the same for every List RPC: a page size with a default and a cap, and an
//! opaque `page_token` that says where the next page starts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::v1::PageRequest;

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 200;

/// The page size asked for: the default when 0, at most [`MAX_PAGE_SIZE`].
pub fn page_size(page: Option<&PageRequest>) -> usize {
    match page.map_or(0, |p| p.page_size as usize) {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// For a page read with one item more than `size` (to learn whether more follow): drops the
/// extra item and returns the next page's token, made by `token` from the page's last item;
/// empty when this is the last page.
pub fn next_token<T>(items: &mut Vec<T>, size: usize, token: impl Fn(&T) -> String) -> String {
    if items.len() <= size {
        return String::new();
    }
    items.truncate(size);
    items.last().map(token).unwrap_or_default()
}

const INVALID: &str = "not a token from a previous response";

/// Where the next page of a newest-first list starts: after this (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}/{}", self.at.timestamp_micros(), self.id))
    }

    /// The cursor in a `page_token`; the error is the description of a `page_token` violation.
    pub fn decode(token: &str) -> Result<Self, &'static str> {
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| INVALID)?;
        let raw = String::from_utf8(raw).map_err(|_| INVALID)?;
        let (micros, id) = raw.split_once('/').ok_or(INVALID)?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros.parse().map_err(|_| INVALID)?)
                .ok_or(INVALID)?,
            id: id.parse().map_err(|_| INVALID)?,
        })
    }

    /// The cursor of a request's page, if it names one.
    pub fn of(page: Option<&PageRequest>) -> Result<Option<Self>, &'static str> {
        match page.map(|p| p.page_token.as_str()) {
            None | Some("") => Ok(None),
            Some(token) => Self::decode(token).map(Some),
        }
    }
}

/// Where the next page of a list kept in insertion order starts: after this sequence number.
pub fn encode_position(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("#{position}"))
}

pub fn decode_position(page: Option<&PageRequest>) -> Result<Option<i64>, &'static str> {
    token_text(page, '#', |n| n.parse().ok())
}

/// Where the next page of a list ordered by a text key (a phone number) starts: after this key.
pub fn encode_key(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("k{key}"))
}

pub fn decode_key(page: Option<&PageRequest>) -> Result<Option<String>, &'static str> {
    token_text(page, 'k', |key| Some(key.to_owned()))
}

/// The page's token, decoded: none for the first page; else its text after `marker`, read by
/// `read`.
fn token_text<T>(
    page: Option<&PageRequest>,
    marker: char,
    read: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, &'static str> {
    match page.map(|p| p.page_token.as_str()) {
        None | Some("") => Ok(None),
        Some(token) => {
            let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| INVALID)?;
            let raw = String::from_utf8(raw).map_err(|_| INVALID)?;
            raw.strip_prefix(marker)
                .and_then(read)
                .map(Some)
                .ok_or(INVALID)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_field_error() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert_eq!(Cursor::decode("bm9wZQ"), Err(INVALID));
        let page = PageRequest {
            page_size: 0,
            page_token: encode_position(41),
        };
        assert_eq!(decode_position(Some(&page)), Ok(Some(41)));
        let keyed = PageRequest {
            page_size: 0,
            page_token: encode_key("+14155550100"),
        };
        assert_eq!(decode_key(Some(&keyed)), Ok(Some("+14155550100".into())));
        assert_eq!(decode_key(Some(&page)), Err(INVALID));
        assert_eq!(page_size(Some(&page)), DEFAULT_PAGE_SIZE);
        let mut items = vec![1, 2, 3];
        assert_eq!(next_token(&mut items, 2, |n| n.to_string()), "2");
        assert_eq!(items, [1, 2]);
        assert_eq!(next_token(&mut items, 2, |n| n.to_string()), "");
    }
}
