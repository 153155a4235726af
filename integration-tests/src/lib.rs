//! The fleet driven from outside; see `tests/`.
