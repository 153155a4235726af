//! Rebuilds this crate when a migration is added, so `MIGRATOR` embeds every file.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
