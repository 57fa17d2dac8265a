//! btvep — the Bittensor Validator Endpoint, in Rust.
//!
//! A validator runs btvep to sell access to a Bittensor subnet: it hands out API keys, meters them
//! (expiry, credits, rate limits), logs every request and answers chat prompts by querying miners
//! with requests signed by the validator's hotkey.
//!
//! # Layout
//! - [`cli`]: the command line, one module per sub-command; `main.rs` only dispatches to it.
//! - [`config`]: the config keys, layered resolution (defaults < file < env < flags), atomic writes.
//! - [`paths`]: where the config file and the data directory are.
//! - [`store`]: the sled database: API keys with atomic credit operations, the request log.
//! - [`import`]: `btvep import`, a Python btvep database and config brought over.
//! - [`admin`]: the store seam: operations as requests, run locally or through a running server's socket.
//! - [`timeparse`]: expiry and log-range parsing.
//! - [`output`]: tables, JSON and terminal conventions.
//! - [`bittensor`]: hotkeys, the dendrite/axon protocol, the metagraph and query strategies.
//! - [`server`]: `btvep start`, the API server and its request pipeline.
//! - [`ratelimit`]: in-process rate limiting with governor.
//! - [`miner`]: `btvep miner`, the Prompting axon backed by an OpenAI-compatible model server.
//! - [`devnet`]: `btvep start --devnet N`, a local subnet in one process.
//! - [`tls`]: HTTP clients that also work without system CA certificates (static binary).
//! - [`logging`]: tracing setup.
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
pub mod server;
pub mod store;
pub mod timeparse;
pub mod tls;
