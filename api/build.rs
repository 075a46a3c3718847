//! Release builds embed web/dist (rust-embed): rebuild when it changes, including when it
//! appears after a build made without it. Debug builds read it from disk at run time.

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=../web/dist");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
