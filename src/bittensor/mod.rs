//! The Bittensor network side of btvep: hotkeys, the dendrite→axon synapse protocol, the metagraph and
//! btvep's query strategies. See `docs/protocol.md` and the spec vectors under `tests/fixtures/`.
//!
//! Entry points: [`keys::Hotkey`] (load the validator hotkey), [`metagraph::Metagraph`] (who the miners are),
//! [`strategy::QueryStrategy::select`] (which miners to ask), [`dendrite::Dendrite::query`] (ask them), and
//! [`axon::AxonVerifier`] (the miner side). [`race`] races miners for the first answer (failover,
//! hedging after the [`hedge`] delay) and reports every attempt to an observer. The HTTP transports of today's subnets sign with [`btauth`]
//! (bittensor 11) or [`epistula`] (Epistula v2).

pub mod axon;
pub mod body_hash;
pub mod btauth;
pub mod dendrite;
pub mod epistula;
pub mod hedge;
pub mod http_miner;
pub mod keys;
pub mod metagraph;
pub mod metagraph_cell;
pub mod protocol;
pub mod race;
pub mod replay;
pub mod strategy;
pub mod synapse;
mod unicode_nonprintable;
