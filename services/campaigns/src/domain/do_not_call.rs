//! Do-not-call lists: named sets of numbers an organization must never call (a national
//! registry's extract, a state's list, the company's own). A campaign honours the lists it
//! names; every campaign honours [`OPTED_OUT`], a contact's own do-not-call flag and withdrawn
//! consent.

use super::{DomainError, invalid};

/// The list of numbers that opted out themselves, by texting STOP (or its equivalent) to one of
/// the organization's numbers; START takes them off. Every campaign honours it, whatever lists
/// it names.
pub const OPTED_OUT: &str = "opted-out";

/// List names are short identifiers, as used in URLs: `internal`, `us-federal`, `state_tx`.
pub fn check_list_name(name: &str) -> Result<(), DomainError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "do_not_call_lists",
            format!("{name:?} is not a list name: 1 to 64 of a-z, 0-9, - and _"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_are_url_safe_identifiers() {
        assert!(check_list_name("us-federal").is_ok());
        assert!(check_list_name("Bad Name").is_err());
        assert!(check_list_name("").is_err());
    }
}
