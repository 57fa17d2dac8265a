//! btvep — the Bittensor Validator Endpoint, in Rust.
//!
//! A validator runs btvep to sell access to a Bittensor subnet: it hands out API keys, meters them
//! (expiry, credits, rate limits), logs every request and answers chat prompts by querying miners
//! with requests signed by the validator's hotkey.
//!
//! # Layout
//! Layers, top down; imports only point down (nothing below [`cli`] imports from it).
//! - [`cli`]: the command line, one module per sub-command; `main.rs` only dispatches to it.
//! - [`server`]: the API server. Its life is [`server::lifecycle::start`] → [`server::lifecycle::ServerHandle`];
//!   every request goes through **one pipeline**, [`server::pipeline`] (admission → plan → reserve →
//!   query → settle → log); front ends ([`server::chat`], [`server::openai`]) only parse and render.
//!   A new front end is a new module calling [`server::pipeline::whole`] or [`server::pipeline::stream`].
//! - [`miner`]: `btvep miner`, the miner (synapse axon, or an OpenAI API signed with btauth/Epistula).
//! - [`devnet`]: `btvep start --devnet N`, a local subnet in one process.
//! - [`admin`]: the store seam: one [`admin::Operation`] type per operation, run locally or through a
//!   running server's socket, shared by the CLI, the socket and the HTTP admin API.
//! - [`import`]: `btvep import`, a Python btvep database and config brought over.
//! - [`routing`]: routing by what the gateway observes: per-miner health (decaying averages, a circuit
//!   breaker), the `best:N` score and selection, hedging delays, the `btvep miners` view. The
//!   dendrite reports every attempt to it; the pipeline asks it for each request's miners.
//! - [`bittensor`]: hotkeys, the miner transports ([`bittensor::dendrite`] for the synapse,
//!   [`bittensor::http_miner`] for btauth/Epistula — a new transport goes here and in
//!   [`server::pipeline::answer`]), the metagraph (one [`bittensor::metagraph_cell`] and refresher
//!   shared by server and miner) and query strategies.
//! - [`store`]: the sled database: API keys with atomic credit operations (checked values in
//!   [`store::values`]), the request log, retention, backups, format versions, group commit.
//! - [`config`]: the key registry, `config.json` (locked atomic writes), layered resolution
//!   (defaults < file < env < flags) and the typed [`config::Config`] everything else reads.
//! - [`ratelimit`]: in-process rate limiting with governor.
//! - [`paths`], [`timeparse`], [`output`], [`tls`], [`logging`]: where files live, date grammar,
//!   terminal output, HTTP clients without system CA certificates, tracing setup.
//!
//! # Errors
//! Inner layers return their own `thiserror` enums ([`config::ConfigError`], [`store::StoreError`],
//! [`admin::AdminError`]); the CLI edge wraps them with `anyhow` context and prints one line.

#![warn(missing_docs)]

pub mod admin;
pub mod bittensor;
pub mod cli;
pub mod config;
pub mod devnet;
pub mod import;
pub mod logging;
pub mod miner;
pub mod output;
pub mod paths;
pub mod ratelimit;
pub mod routing;
pub mod server;
pub mod store;
pub mod timeparse;
pub mod tls;
