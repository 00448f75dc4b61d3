//! Benchmark: requests per second of this client against a real slapproxy, next to the same
//! calls made by Python's `slapos.slap` library on the same proxy in the same run.
//!
//! Run it with `scripts/bench-client` (release build, creates the slapos venv if needed):
//!
//! ```text
//! scripts/bench-client [SECONDS_PER_MEASURE]      # default 5
//! ```
//!
//! It starts one proxy, registers `COMP-B10` (10 partitions) and `COMP-B100` (100 partitions),
//! each partition busy with one instance hosting one shared instance, then measures, one
//! client at a time and alternating Rust / Python:
//!
//! * `GET /getRunId`;
//! * `GET /getFullComputerInformation` with 10 and with 100 busy partitions (decoded: typed
//!   structs here, Python objects there);
//! * `POST /requestComputerPartition` of an existing, unchanged instance.
//!
//! Each bouture call is paired with the same HTTP request made with a bare ureq agent that only
//! reads the body ("raw HTTP": the proxy's own cost plus the transport), alternating call by
//! call so that load from other processes affects both alike; the difference is the client's
//! overhead. It also times the client's own CPU work per call (encoding the request, decoding
//! the answer into typed structs) on the real payloads.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A benchmark reports on stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // It stops at the first failure.
#![allow(clippy::cast_precision_loss)] // Counts become rates.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use bouture_master_client::{
    ComputerRegistration, InstanceRequest, MasterClient, PartitionAddress, PartitionRegistration,
    SharedInstanceRequest, SupplyState, marshal, params, parse,
};
use bouture_test_support::{SlapProxy, SlaposEnv};
use serde_json::json;

const SR: &str = "https://lab.example.org/software/ors/software.cfg";

const PYTHON_BENCH: &str = r#"
import json, sys, time
import slapos.slap
from slapos.util import dumps

url, seconds, op, computer, sr = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
slap = slapos.slap.slap()
slap.initializeConnection(url)
conn = slap._connection_helper
order = slap.registerOpenOrder()
params = {"_": json.dumps({"bench": True, "x": "a&b<c>"})}

if op == "getRunId":
    call = lambda: conn.GET("getRunId")
elif op == "getFullComputerInformation":
    call = lambda: conn.getFullComputerInformation(computer)
elif op == "requestComputerPartition":
    call = lambda: order.request(sr, "bench 0", partition_parameter_kw=params,
                                 software_type="default", filter_kw={"computer_guid": computer},
                                 state="started", shared=False)
call()  # warm up (and the one-time getHateoasUrl probe)
n = 0
start = time.perf_counter()
while True:
    call()
    n += 1
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
print(json.dumps({"n": n, "seconds": elapsed}))
"#;

struct Measure {
    calls: u64,
    seconds: f64,
}

impl Measure {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.seconds
    }

    fn latency_ms(&self) -> f64 {
        self.seconds * 1000.0 / self.calls as f64
    }
}

/// Alternate `a` and `b` call by call for `seconds` each (so that load from other processes
/// affects both alike) and time each side separately.
fn measure_pair(seconds: f64, mut a: impl FnMut(), mut b: impl FnMut()) -> (Measure, Measure) {
    a(); // warm up
    b();
    let (mut ta, mut tb) = (0.0, 0.0);
    let mut calls = 0;
    while ta + tb < 2.0 * seconds {
        let start = Instant::now();
        a();
        let mid = Instant::now();
        b();
        ta += (mid - start).as_secs_f64();
        tb += mid.elapsed().as_secs_f64();
        calls += 1;
    }
    (
        Measure { calls, seconds: ta },
        Measure { calls, seconds: tb },
    )
}

fn python_measure(env: &SlaposEnv, url: &str, seconds: f64, op: &str, computer: &str) -> Measure {
    let python = env.python.as_ref().expect("the venv's python");
    let out = Command::new(python)
        .args([
            "-c",
            PYTHON_BENCH,
            url,
            &seconds.to_string(),
            op,
            computer,
            SR,
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the Python benchmark");
    assert!(out.status.success(), "the Python benchmark failed");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Measure {
        calls: result["n"].as_u64().unwrap(),
        seconds: result["seconds"].as_f64().unwrap(),
    }
}

/// Register `partitions` partitions, each with one instance hosting one shared instance.
fn populate(client: &MasterClient, computer: &str, partitions: usize) {
    let mut c = ComputerRegistration::new(computer);
    for i in 0..partitions {
        let mut p = PartitionRegistration::new(format!("slappart{i}"));
        p.tap_name = format!("slaptap{i}");
        p.addresses = vec![
            PartitionAddress::new(
                format!("10.{}.{}.{}", partitions % 256, i / 250, 1 + i % 250)
                    .parse()
                    .unwrap(),
                "255.255.255.0".parse().unwrap(),
            ),
            PartitionAddress::new(
                format!("2001:db8:{partitions:x}::{:x}", i + 1)
                    .parse()
                    .unwrap(),
                "ffff:ffff:ffff:ffff::".parse().unwrap(),
            ),
        ];
        c.partitions.push(p);
    }
    client.load_computer_configuration(&c).unwrap();
    client.supply(computer, SR, SupplyState::Available).unwrap();
    for i in 0..partitions {
        let mut r = InstanceRequest::new(computer, SR, "default", format!("{computer} inst {i}"));
        r.parameters.insert(
            "_".into(),
            json!(json!({"i": i, "cell": {"band": 78}}).to_string()),
        );
        let answer = client.request_instance(&r).unwrap();
        assert_eq!(answer.partition_id, format!("slappart{i}"));
        let mut s =
            SharedInstanceRequest::new(computer, SR, "default", format!("{computer} sim {i}"));
        s.host_instance_guid = Some(format!("{computer}-slappart{i}"));
        s.parameters.insert(
            "_".into(),
            json!(json!({"imsi": format!("0010100000{i:05}")}).to_string()),
        );
        client.request_shared_instance(&s).unwrap();
    }
}

/// `getFullComputerInformation` of a computer with `partitions` partitions.
fn full_info<'a>(
    client: &'a MasterClient,
    computer: &'a str,
    partitions: usize,
) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        let info = client.full_computer_information(computer).unwrap();
        assert_eq!(info.partitions.len(), partitions);
    })
}

/// CPU time of `f` per call, in microseconds (median of 5 batches).
fn cpu_us(iterations: u32, mut f: impl FnMut()) -> f64 {
    let mut batches: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[2]
}

/// (label, Python operation, computer, the client's call, the same HTTP request without the
/// client: body read, not decoded).
type Op<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Box<dyn FnMut() + 'a>,
    Box<dyn FnMut() + 'a>,
);

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(5.0, |s| s.parse().expect("seconds per measure"));
    let env = SlaposEnv::get().unwrap();
    let proxy = SlapProxy::start("COMP-BENCH").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    eprintln!(
        "proxy at {}; populating 10 + 100 partitions ...",
        proxy.url()
    );
    let setup = Instant::now();
    populate(&client, "COMP-B10", 10);
    populate(&client, "COMP-B100", 100);
    eprintln!("populated in {:.1} s", setup.elapsed().as_secs_f64());

    // The same request the Python side makes: existing instance "bench 0", unchanged.
    let mut bench_request = InstanceRequest::new("COMP-B10", SR, "default", "bench 0");
    bench_request.parameters.insert(
        "_".into(),
        json!(
            json!({"bench": true, "x": "a&b<c>"})
                .to_string()
                .replace(',', ", ")
                .replace(':', ": ")
        ),
    );
    // COMP-B10 and COMP-B100 are full: "bench 0" gets its own computer.
    let mut c10 = ComputerRegistration::new("COMP-BREQ");
    c10.partitions.push(PartitionRegistration::new("slappart0"));
    client.load_computer_configuration(&c10).unwrap();
    bench_request.computer_guid = "COMP-BREQ".into();
    client.request_instance(&bench_request).unwrap();

    let agent = ureq::agent();
    let url = proxy.url();
    let raw_get = |path: &'static str| {
        let agent = &agent;
        move || {
            raw_body(agent, url, path);
        }
    };
    let ops: Vec<Op<'_>> = vec![
        (
            "GET getRunId",
            "getRunId",
            "",
            Box::new(|| {
                client.run_id().unwrap();
            }),
            Box::new(raw_get("getRunId")),
        ),
        (
            "GET getFullComputerInformation, 10 partitions",
            "getFullComputerInformation",
            "COMP-B10",
            full_info(&client, "COMP-B10", 10),
            Box::new(raw_get("getFullComputerInformation?computer_id=COMP-B10")),
        ),
        (
            "GET getFullComputerInformation, 100 partitions",
            "getFullComputerInformation",
            "COMP-B100",
            full_info(&client, "COMP-B100", 100),
            Box::new(raw_get("getFullComputerInformation?computer_id=COMP-B100")),
        ),
        (
            "POST requestComputerPartition (existing, unchanged)",
            "requestComputerPartition",
            "COMP-BREQ",
            Box::new(|| {
                client.request_instance(&bench_request).unwrap();
            }),
            Box::new(|| {
                proxy_request_answer(&agent, url, &bench_request);
            }),
        ),
    ];

    let mut rows = Vec::new();
    for (label, op, computer, mut call, mut raw) in ops {
        eprintln!("measuring {label} ...");
        let (raw, rust) = measure_pair(seconds, &mut raw, &mut call);
        let python = python_measure(env, proxy.url(), seconds, op, computer);
        rows.push((label, raw, rust, python));
    }

    let (cpu, sizes) = client_cpu(proxy.url(), &bench_request);
    print_table(&rows, cpu, sizes, seconds, client.request_count());
}

fn print_table(
    rows: &[(&str, Measure, Measure, Measure)],
    cpu: [f64; 4],
    sizes: (usize, usize),
    seconds: f64,
    requests: u64,
) {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| operation | raw HTTP ms/call | bouture req/s | bouture ms/call | bouture − raw | slapos.slap req/s | slapos.slap ms/call | bouture / slapos.slap | bouture CPU per call |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|").unwrap();
    for ((label, raw, rust, python), cpu) in rows.iter().zip(cpu) {
        writeln!(
            out,
            "| {label} | {:.2} | {:.0} | {:.2} | {:+.2} ms | {:.0} | {:.2} | {:.2}× | {} |",
            raw.latency_ms(),
            rust.rate(),
            rust.latency_ms(),
            rust.latency_ms() - raw.latency_ms(),
            python.rate(),
            python.latency_ms(),
            rust.rate() / python.rate(),
            if cpu > 0.0 {
                format!("{:.2} ms", cpu / 1000.0)
            } else {
                "–".to_owned()
            },
        )
        .unwrap();
    }
    writeln!(
        out,
        "\n{} s per measure; body sizes: getFullComputerInformation 10 = {} bytes, 100 = {} bytes; {} HTTP requests by the Rust client in total.",
        seconds,
        sizes.0,
        sizes.1,
        requests
    )
    .unwrap();
}

/// The client's own CPU work per call, on the real payloads, in µs; and the two body sizes.
fn client_cpu(url: &str, bench_request: &InstanceRequest) -> ([f64; 4], (usize, usize)) {
    // The client's own CPU work per call, on the real payloads.
    let agent = ureq::agent();
    let full10 = raw_body(
        &agent,
        url,
        "getFullComputerInformation?computer_id=COMP-B10",
    );
    let full100 = raw_body(
        &agent,
        url,
        "getFullComputerInformation?computer_id=COMP-B100",
    );
    let cpu_full10 = cpu_us(200, || {
        parse::computer_information(&full10).unwrap();
    });
    let cpu_full100 = cpu_us(20, || {
        parse::computer_information(&full100).unwrap();
    });
    let request_answer = proxy_request_answer(&agent, url, bench_request);
    let cpu_request = cpu_us(2000, || {
        let p = params::parameters_to_marshal(&bench_request.parameters);
        marshal::to_string(&p).unwrap();
        parse::requested_instance(&request_answer).unwrap();
    });

    (
        [0.0, cpu_full10, cpu_full100, cpu_request],
        (full10.len(), full100.len()),
    )
}

/// `GET {url}/{path}` with plain ureq (no bouture code): the answer's body.
fn raw_body(agent: &ureq::Agent, url: &str, path: &str) -> String {
    agent
        .get(format!("{url}/{path}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

fn proxy_request_answer(agent: &ureq::Agent, url: &str, request: &InstanceRequest) -> String {
    let enc = |v: &marshal::Value| marshal::to_string(v).unwrap();
    let parameter_xml = enc(&params::parameters_to_marshal(&request.parameters));
    let filter_xml = enc(&marshal::Value::dict([(
        "computer_guid",
        marshal::Value::from(request.computer_guid.as_str()),
    )]));
    agent
        .post(format!("{url}/requestComputerPartition"))
        .send_form([
            ("software_release", request.software_release.as_str()),
            ("partition_reference", request.title.as_str()),
            ("partition_parameter_xml", parameter_xml.as_str()),
            ("filter_xml", filter_xml.as_str()),
            ("software_type", request.software_type.as_str()),
            ("state", "<marshal><string>started</string></marshal>"),
            ("shared_xml", "<marshal><bool>0</bool></marshal>"),
        ])
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}
