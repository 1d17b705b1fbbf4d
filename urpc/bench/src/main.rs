//! URPC host benchmark (being written).
fn main() {}
