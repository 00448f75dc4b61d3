//! Every INI fixture must read exactly as Python's configparser reads it:
//! the same sections, raw values, interpolated items, and the same errors.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use bouture_ini::IniDocument;
use serde_json::{Map, Value, json};

use bouture_test_support::python::python;

/// The directory of this crate's test fixtures.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The name of the Python exception that corresponds to an error.
fn python_error_name(error: &bouture_ini::Error) -> &'static str {
    match error {
        bouture_ini::Error::MissingSectionHeader { .. } => "MissingSectionHeaderError",
        bouture_ini::Error::DuplicateSection { .. } => "DuplicateSectionError",
        bouture_ini::Error::DuplicateOption { .. } => "DuplicateOptionError",
        bouture_ini::Error::Parsing { .. } => "ParsingError",
        bouture_ini::Error::Interpolation { problem, .. }
            if problem.contains("refers to an option") =>
        {
            "InterpolationMissingOptionError"
        }
        bouture_ini::Error::Interpolation { problem, .. } if problem.contains("nest deeper") => {
            "InterpolationDepthError"
        }
        bouture_ini::Error::Interpolation { .. } => "InterpolationSyntaxError",
        bouture_ini::Error::NoSection { .. } => "NoSectionError",
        _ => "unknown",
    }
}

fn pairs(options: &[(String, String)]) -> Value {
    Value::Object(
        options
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// The same shape as `configparser_dump.py` prints.
fn rust_dump(text: &str) -> Value {
    let doc = match IniDocument::parse(text) {
        Ok(doc) => doc,
        Err(error) => return json!({ "error": python_error_name(&error) }),
    };
    let sections: Vec<Value> = doc
        .sections()
        .iter()
        .map(|section| {
            let items = match doc.items(&section.name) {
                Ok(items) => pairs(&items),
                Err(error) => json!({ "error": python_error_name(&error) }),
            };
            json!([section.name, pairs(&section.options), items])
        })
        .collect();
    json!({ "defaults": pairs(&doc.defaults().options), "sections": sections })
}

#[test]
fn every_fixture_reads_as_python_configparser_reads_it() {
    let dir = fixtures().join("ini");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cfg"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "expected the INI fixtures in {}",
        dir.display()
    );

    let output = python()
        .arg(fixtures().join("../python/configparser_dump.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "configparser_dump.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Map<String, Value> = serde_json::from_slice(&output.stdout).unwrap();

    let mut mismatches = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let ours = rust_dump(&text);
        let theirs = &expected[file.to_str().unwrap()];
        // Compare as text so that the order of options matters too.
        if serde_json::to_string(&ours).unwrap() != serde_json::to_string(theirs).unwrap() {
            mismatches.push(format!(
                "{}:\n  python: {theirs}\n  bouture: {ours}",
                file.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
