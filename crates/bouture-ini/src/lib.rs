#![doc = include_str!("../README.md")]

mod document;
mod editor;
mod grammar;

pub use document::{DEFAULT_SECTION, Error, IniDocument, IniSection};
pub use editor::{IniEditor, SetOutcome};
