//! The SlapOS node as data.
