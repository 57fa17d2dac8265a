//! btvep — the Bittensor Validator Endpoint.
pub mod bittensor;
