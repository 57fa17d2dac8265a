//! Dendrite fan-out benchmark: one `query` to 256 fast local fake axons (canned instant answers, so the figure is
//! btvep's own cost: signing, request building, connection handling, parsing), `in_parallel = 256`,
//! `respond_on_first_success = false`.
//!
//! Run: `cargo bench --bench fanout` — prints min/median/p90 and rewrites the `## Dendrite fan-out (256 miners)`
//! section of `docs/benchmarks.md`.

#[path = "../tests/common/fake_axon.rs"]
mod fake_axon;

use std::time::{Duration, Instant};

use btvep::bittensor::dendrite::{Dendrite, QueryOptions};
use btvep::bittensor::keys::Hotkey;
use btvep::bittensor::metagraph::Neuron;

const MINERS: usize = 256;
const ITERATIONS: usize = 20;
const HEADING: &str = "## Dendrite fan-out (256 miners)";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn write_doc(section: &str) -> std::io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    // Replace our section (up to the next `## ` heading) and keep everything else.
    let out = match existing.find(HEADING) {
        Some(start) => {
            let after = start + HEADING.len();
            let end = existing[after..]
                .find("\n## ")
                .map(|i| after + i + 1)
                .unwrap_or(existing.len());
            format!("{}{}{}", &existing[..start], section, &existing[end..])
        }
        None => format!(
            "{}\n{}",
            existing.trim_end_matches('\n').to_string() + "\n",
            section
        ),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, out)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let (key, _) = Hotkey::generate().expect("key");
        let axon_key = Hotkey::generate().expect("axon key").0;
        let mut neurons = Vec::with_capacity(MINERS);
        for uid in 0..MINERS {
            let addr = fake_axon::spawn(fake_axon::Behavior::Canned, axon_key.ss58()).await;
            neurons.push(Neuron::new(uid as u16, axon_key.ss58(), addr.ip().to_string(), addr.port()));
        }
        let dendrite = Dendrite::new(key).expect("dendrite");
        let roles = vec!["system".to_string(), "user".to_string()];
        let messages = vec!["You are a helpful assistant.".to_string(), "What is 2+2?".to_string()];
        let opts = QueryOptions { timeout: Duration::from_secs(12), in_parallel: MINERS, respond_on_first_success: false };

        // Warm-up: opens the pooled keep-alive connections (as a running gateway would have them).
        let warm = dendrite.query(&neurons, &roles, &messages, opts).await;
        assert!(warm.iter().all(|r| r.is_success), "warm-up failed: {:?}", warm.iter().find(|r| !r.is_success));

        let mut ms = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS {
            let start = Instant::now();
            let results = dendrite.query(&neurons, &roles, &messages, opts).await;
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(results.iter().filter(|r| r.is_success).count(), MINERS);
        }
        ms.sort_by(f64::total_cmp);
        let (min, median, p90) = (ms[0], percentile(&ms, 0.5), percentile(&ms, 0.9));
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        println!("fanout: {MINERS} miners x {ITERATIONS} iterations: min {min:.1} ms, median {median:.1} ms, p90 {p90:.1} ms ({cores} cores)");
        let section = format!(
            "{HEADING}\n\n\
             One `Dendrite::query` to {MINERS} local fake axons on 127.0.0.1 that answer instantly with a canned success \
             (so miner time is excluded; the fake axons share the machine's cores with the dendrite), \
             `in_parallel = {MINERS}`, `respond_on_first_success = false`, keep-alive connections warm. \
             Each query signs {MINERS} sr25519 requests, sends them concurrently and parses {MINERS} JSON answers.\n\n\
             | iterations | min | median | p90 | cores |\n|---|---|---|---|---|\n\
             | {ITERATIONS} | {min:.1} ms | {median:.1} ms | {p90:.1} ms | {cores} |\n\n\
             Command: `CARGO_TARGET_DIR=/work/main/target cargo bench --bench fanout` (release profile).\n"
        );
        if let Err(e) = write_doc(&section) {
            eprintln!("could not update docs/benchmarks.md: {e}");
        }
    });
}
