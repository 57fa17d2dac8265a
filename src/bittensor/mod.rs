//! The Bittensor network side of btvep: hotkeys, the dendrite→axon synapse protocol, the metagraph and
//! btvep's query strategies. See `docs/protocol.md` and the spec vectors under `tests/fixtures/`.

pub mod strategy;
