//! The fleet's gRPC API (`comms.v1`), generated from `proto/` at build time, and the one table
//! that maps API errors to both gRPC codes and HTTP statuses.

pub mod error;
pub mod language;
pub mod page;
pub mod phone;
pub mod time;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("comms.v1");
}

/// The encoded descriptors of every comms.v1 file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("comms_descriptor");

pub use error::{ApiError, ErrorKind, FieldViolation, Violations};
pub use language::Language;
pub use phone::PhoneNumber;
