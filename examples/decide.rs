//! Placeholder; replaced by the decide CLI.
fn main() {}
