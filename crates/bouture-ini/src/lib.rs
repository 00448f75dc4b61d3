#![doc = include_str!("../README.md")]

mod document;
mod editor;
mod grammar;

pub use document::{DEFAULT_SECTION, IniDocument, IniError, IniSection};
pub use editor::{IniEditor, SetOutcome};
