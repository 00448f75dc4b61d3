//! Speak the SlapOS master and slapproxy API (legacy SLAP and JSON-RPC v0).
//!
//! Work in progress: see the project's issues.
