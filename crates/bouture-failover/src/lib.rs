#![doc = include_str!("../README.md")]

pub mod configure;
pub mod decision;
mod graft_step;
mod offline;
pub mod pidfile;
mod run;
pub mod status;
pub mod switchfile;

pub use graft_step::GraftStepError;
pub use run::{
    DEFAULT_MASTER_TIMEOUT, DEFAULT_PIDFILE_INSTANCE, Error, Failover, FailoverLog,
    FailoverOutcome, FileRole, Master, Name, NotProcessed, Options, SlaposCommand, SlaposNode,
    Unwritable,
};
