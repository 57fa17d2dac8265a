//! Test helpers shared by the integration tests.
pub mod fake_axon;
pub mod gateway;
