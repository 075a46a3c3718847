//! What checking a secret costs: an argon2id password verification (login) against a SHA-256
//! credential or token lookup key, side by side in one run. Run with
//! `cargo bench -p distribox-commands --bench secret_checks`.

use std::time::{Duration, Instant};

use distribox_commands::secrets::{hash_password, random_token, token_hash, verify_password};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    median(samples)
}

fn main() {
    let hash = hash_password("correct horse battery staple");
    // A PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash
    let parameters: Vec<&str> = hash.split('$').skip(1).take(3).collect();
    println!("argon2 parameters: {}", parameters.join(" "));
    let hashing = time(20, || hash_password("correct horse battery staple"));
    let verifying = time(20, || verify_password("a wrong guess", &hash));
    let token = random_token();
    let lookup_key = time(10_000, || token_hash(&token));
    println!("argon2id hash (account creation, password change): median {hashing:?}");
    println!("argon2id verify (each login attempt):               median {verifying:?}");
    println!("SHA-256 of a 256-bit secret (token, credential):    median {lookup_key:?}");
    println!(
        "one core verifies at most {:.0} passwords per second",
        1.0 / verifying.as_secs_f64()
    );
}
