//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds the migrations at compile
//! time, and without this Cargo would not notice a new or edited migration file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
