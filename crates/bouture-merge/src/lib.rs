//! Merge Ganeti cluster configurations (`config.data`).
//!
//! Work in progress: see the project's issues.
