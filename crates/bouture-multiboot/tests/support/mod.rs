//! Shared helpers of the build, switch and boot tests: those of every multiboot test
//! (bouture-test-support's `multiboot`), and QEMU.

#![allow(dead_code, unused_imports)]

pub(crate) mod qemu;

pub(crate) use bouture_test_support::multiboot::*;
