//! A fast local miner for benchmarks: answers `POST /Prompting` instantly with a canned success, without
//! verifying signatures (so a load generator can also query it directly with a fixed body).
//!
//! Run: `cargo run --release --example bench_miner` — prints `listening on ADDR hotkey SS58`.

#[path = "../tests/common/fake_axon.rs"]
mod fake_axon;

#[tokio::main]
async fn main() {
    let hotkey = btvep::bittensor::keys::Hotkey::generate()
        .expect("a throwaway hotkey")
        .0;
    let addr = fake_axon::spawn(fake_axon::Behavior::Canned, hotkey.ss58()).await;
    println!("listening on {addr} hotkey {}", hotkey.ss58());
    let _ = tokio::signal::ctrl_c().await;
}
