//! `bouture inventory`: the node as bouture sees it.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

use bouture_graft::GraftPlan;
use bouture_text::Level;

use bouture_core::{
    BoutureStatus, Inventory, InventoryTotals, Partition, PartitionAddress, ResourceStatus,
};

use crate::commands::NodeCfgArg;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture inventory`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  bouture inventory
  bouture inventory --cfg /etc/opt/slapos/slapos.cfg --format json
  bouture inventory -v    # also log, on stderr, what graft would do with each partition
  bouture inventory -q    # only the opted-in partitions graft would skip (WARNING lines)

Exit status: 0 when the node was scanned (even if some partitions are invalid),
1 when the node configuration or the instance root cannot be read, 2 for usage errors.")]
#[non_exhaustive]
pub struct InventoryArgs {
    /// `--cfg NODE_CFG`: the node configuration.
    #[command(flatten)]
    pub node: NodeCfgArg,
    /// How to print the inventory.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// The JSON document `bouture inventory --format json` prints.
#[derive(serde::Serialize)]
struct InventoryReport<'a> {
    #[serde(flatten)]
    inventory: &'a Inventory,
    totals: InventoryTotals,
}

pub(crate) fn run(args: &InventoryArgs, cx: &mut Context<'_>) -> CommandResult {
    inventory(args, &mut cx.log, cx.stdout)
}

fn inventory(args: &InventoryArgs, log: &mut Logger<'_>, stdout: &mut dyn Write) -> CommandResult {
    let started = Instant::now();
    let config = args.node.load()?;
    log.debug(&format!(
        "read the node configuration {}",
        config.path.display()
    ));
    let inventory = Inventory::scan(&config).map_err(CommandError::failed)?;
    log.debug(&format!(
        "scanned the {} partitions of {} in {} ms",
        inventory.partitions.len(),
        config.instance_root.display(),
        started.elapsed().as_millis()
    ));
    log_decisions(&inventory, log);
    let written = match args.format {
        OutputFormat::Text if !log.shows(Level::Info) => Ok(()),
        OutputFormat::Json => write_json(
            stdout,
            &InventoryReport {
                inventory: &inventory,
                totals: inventory.totals(),
            },
        ),
        OutputFormat::Text => stdout.write_all(render_text(&inventory).as_bytes()),
    };
    written.map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

/// Log what `bouture graft` would do with each partition (its own plan
/// decides), at DEBUG (`-v`); with `-q`, which drops the report, an
/// opted-in partition graft would skip is a WARNING.
fn log_decisions(inventory: &Inventory, log: &mut Logger<'_>) {
    let plan = GraftPlan::build(inventory, &bouture_graft::Options::default());
    for partition in &inventory.partitions {
        if let Some(skipped) = plan.skipped.iter().find(|s| s.id == partition.id) {
            // A WARNING only when the report, which says it too, is not
            // printed (`-q`).
            let level = if log.shows(Level::Info) {
                Level::Debug
            } else {
                Level::Warning
            };
            log.log(
                level,
                &format!(
                    "{}: opted in but graft would skip it: {}",
                    partition.id, skipped.reason
                ),
            );
        } else if plan.partitions.iter().any(|p| p.id == partition.id) {
            log.debug(&format!(
                "{}: opted in and valid: graft would send it",
                partition.id
            ));
        } else {
            log.debug(&format!(
                "{}: not opted in (no bouture.json): graft leaves it",
                partition.id
            ));
        }
    }
}

/// The human-readable inventory.
pub(crate) fn render_text(inventory: &Inventory) -> String {
    let mut out = String::new();
    let computer = &inventory.computer;
    let _ = writeln!(out, "computer {}", computer.computer_id);
    let _ = writeln!(out, "  configuration  {}", computer.config_path.display());
    let _ = writeln!(out, "  instance root  {}", computer.instance_root.display());
    let address = match (computer.address, computer.netmask) {
        (Some(addr), Some(netmask)) => PartitionAddress { addr, netmask }.to_string(),
        (Some(addr), None) => addr.to_string(),
        _ => "not recorded".to_string(),
    };
    let _ = writeln!(out, "  address        {address}");
    for partition in &inventory.partitions {
        out.push('\n');
        render_partition(&mut out, partition);
    }
    let totals = inventory.totals();
    let _ = writeln!(
        out,
        "\n{} partitions: {} opted in and valid, {} invalid, {} not opted in",
        totals.partitions, totals.valid, totals.invalid, totals.not_opted_in
    );
    out
}

fn render_partition(out: &mut String, partition: &Partition) {
    match partition.interface() {
        Some(interface) => {
            let _ = writeln!(out, "{}  interface {interface}", partition.id);
        }
        None => {
            let _ = writeln!(out, "{}", partition.id);
        }
    }
    match &partition.resource {
        ResourceStatus::Valid(resource) if resource.addresses.is_empty() => {
            let _ = writeln!(out, "  no addresses");
        }
        ResourceStatus::Valid(resource) => {
            for address in &resource.addresses {
                let _ = writeln!(out, "  {address}");
            }
        }
        ResourceStatus::Missing { path } => {
            let _ = writeln!(out, "  .slapos-resource: missing ({})", path.display());
        }
        ResourceStatus::Invalid(error) => {
            let _ = writeln!(out, "  .slapos-resource: invalid: {error}");
        }
        _ => {}
    }
    match &partition.bouture {
        BoutureStatus::NotOptedIn => {
            let _ = writeln!(out, "  bouture.json: absent (not opted in)");
        }
        BoutureStatus::Valid(file) => {
            let software_type = if file.software_type.is_empty() {
                "default type"
            } else {
                &file.software_type
            };
            let shared = match file.shared_list.len() {
                1 => "1 shared instance".to_string(),
                n => format!("{n} shared instances"),
            };
            let _ = writeln!(
                out,
                "  bouture.json: valid: \"{}\" ({software_type}, {}), {shared}",
                file.instance_title, file.instance_state
            );
        }
        BoutureStatus::Invalid(error) => {
            let _ = writeln!(out, "  bouture.json: invalid: {error}");
        }
        _ => {}
    }
}
