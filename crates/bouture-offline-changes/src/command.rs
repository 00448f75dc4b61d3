//! The `slapos request` command line that makes an instance on the original
//! master what it is on the local master.
//!
//! Syntax of slapos.core 1.26.1 (`slapos request --help`):
//!
//! ```text
//! slapos request [--cfg CFG] [--node NODE [NODE ...]] [--type TYPE] [--state STATE] [--slave]
//!                [--parameters PARAMETERS [PARAMETERS ...] | --parameters-file FILE]
//!                reference software_url
//! ```
//!
//! `--parameters` takes `key=value` words, split at the first `=`, every
//! value a string. A request sends the whole parameter set and the state, so
//! every command built here names all of them: running it on the original
//! master gives the instance exactly the local master's parameters and
//! state, and running it twice changes nothing more.

use bouture_master_client::{InstanceState, Parameters};

use crate::strict_json::bounded;
use bouture_text::shell_line;
use serde_json::Value;

/// The program name the commands start with.
pub const SLAPOS: &str = "slapos";

/// What to request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) title: &'a str,
    pub(crate) software_release: &'a str,
    pub(crate) software_type: &'a str,
    /// `--state`, when one is sent.
    pub(crate) state: Option<&'a str>,
    /// `--slave`.
    pub(crate) shared: bool,
    /// `--node computer_guid=<this>`, for an instance the original master
    /// does not have yet.
    pub(crate) computer_guid: Option<&'a str>,
    /// `--parameters`, all of them (none: the instance gets none).
    pub(crate) parameters: Option<&'a Parameters>,
}

/// The argument vector of `slapos request`, or why the command line cannot
/// express this request.
pub(crate) fn request_argv(request: &Request<'_>) -> Result<Vec<String>, String> {
    let mut options: Vec<String> = Vec::new();
    if !request.software_type.is_empty() {
        options.extend(["--type".to_string(), request.software_type.to_string()]);
    }
    if let Some(state) = request.state {
        options.extend(["--state".to_string(), state.to_string()]);
    }
    if request.shared {
        options.push("--slave".to_string());
    }
    if let Some(computer_guid) = request.computer_guid {
        options.extend([
            "--node".to_string(),
            format!("computer_guid={computer_guid}"),
        ]);
    }
    if let Some(parameters) = request.parameters.filter(|p| !p.is_empty()) {
        options.push("--parameters".to_string());
        for (key, value) in parameters {
            if key.contains('=') || key.starts_with('-') || key.is_empty() {
                return Err(format!(
                    "the parameter name {:?} cannot be written as `--parameters key=value`; \
                     request the new parameters above with `slapos request --parameters-file`",
                    bounded(key)
                ));
            }
            let Value::String(text) = value else {
                return Err(format!(
                    "the parameter {:?} is not a string ({}), and `--parameters` only sends \
                     strings; request the new parameters above with `slapos request \
                     --parameters-file FILE.json --force-serialisation xml`",
                    bounded(key),
                    bounded(&value.to_string())
                ));
            };
            options.push(format!("{key}={text}"));
        }
    }
    let mut argv = vec![SLAPOS.to_string(), "request".to_string()];
    if request.title.starts_with('-') || request.software_release.starts_with('-') {
        // argparse would read them as options: options first, then `--`.
        argv.extend(options);
        argv.push("--".to_string());
        argv.extend([
            request.title.to_string(),
            request.software_release.to_string(),
        ]);
    } else {
        argv.extend([
            request.title.to_string(),
            request.software_release.to_string(),
        ]);
        argv.extend(options);
    }
    Ok(argv)
}

/// A `slapos request` read back from a recorded argument vector: the typed record the
/// argument vector is rebuilt from before it is run (never the recorded words themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedRequest {
    title: String,
    software_release: String,
    software_type: String,
    state: Option<InstanceState>,
    shared: bool,
    computer_guid: Option<String>,
    parameters: Option<Parameters>,
}

impl OwnedRequest {
    /// Read `argv` as [`request_argv`] writes it, strictly: `slapos request`, the title and
    /// the software release (or the options, `--`, then both), `--type`, `--state` (one of
    /// SlapOS's states), `--slave`, `--node computer_guid=ID`, `--parameters key=value...`,
    /// each at most once; then check that rebuilding gives `argv` word for word.
    pub(crate) fn parse(argv: &[String]) -> Result<Self, String> {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let Some(([SLAPOS, "request"], rest)) = words.split_first_chunk::<2>() else {
            return Err("it does not start with `slapos request`".into());
        };
        let mut request = Self {
            title: String::new(),
            software_release: String::new(),
            software_type: String::new(),
            state: None,
            shared: false,
            computer_guid: None,
            parameters: None,
        };
        let mut positional: Vec<&str> = Vec::new();
        let mut after_dashes = false;
        let mut seen: Vec<&str> = Vec::new();
        let mut index = 0;
        while let Some(&word) = rest.get(index) {
            index += 1;
            if after_dashes || !word.starts_with("--") {
                if !after_dashes && !positional.is_empty() && positional.len() >= 2 {
                    return Err(format!("unexpected word {:?}", bounded(word)));
                }
                positional.push(word);
                continue;
            }
            if seen.contains(&word) {
                return Err(format!("{word} given twice"));
            }
            seen.push(word);
            let mut value = || {
                let value = rest
                    .get(index)
                    .copied()
                    .ok_or(format!("{word} without a value"))?;
                index += 1;
                Ok::<&str, String>(value)
            };
            match word {
                "--" => after_dashes = true,
                "--type" => request.software_type = value()?.to_string(),
                "--state" => {
                    let state = value()?;
                    request.state = Some(
                        state
                            .parse()
                            .map_err(|_| format!("unknown state {:?}", bounded(state)))?,
                    );
                }
                "--slave" => request.shared = true,
                "--node" => {
                    let node = value()?;
                    let guid = node
                        .strip_prefix("computer_guid=")
                        .filter(|guid| !guid.is_empty())
                        .ok_or(format!("unexpected --node {:?}", bounded(node)))?;
                    request.computer_guid = Some(guid.to_string());
                }
                "--parameters" => {
                    let mut parameters = Parameters::new();
                    while let Some(&pair) = rest.get(index) {
                        if pair.starts_with("--") {
                            break;
                        }
                        let Some((key, text)) = pair.split_once('=') else {
                            break;
                        };
                        if parameters
                            .insert(key.to_string(), Value::String(text.to_string()))
                            .is_some()
                        {
                            return Err(format!("parameter {:?} given twice", bounded(key)));
                        }
                        index += 1;
                    }
                    if parameters.is_empty() {
                        return Err("--parameters without a key=value".into());
                    }
                    request.parameters = Some(parameters);
                }
                other => return Err(format!("unexpected option {:?}", bounded(other))),
            }
        }
        let [title, software_release] = positional[..] else {
            return Err("it does not name an instance title and a software release".into());
        };
        if title.is_empty() || software_release.is_empty() {
            return Err("an empty instance title or software release".into());
        }
        request.title = title.to_string();
        request.software_release = software_release.to_string();
        let rebuilt = request.argv()?;
        if rebuilt != argv {
            return Err(format!(
                "it is not written as bouture writes it (rebuilt: {})",
                bounded(&shell_line(&rebuilt))
            ));
        }
        Ok(request)
    }

    /// The argument vector, rebuilt from the typed fields.
    pub(crate) fn argv(&self) -> Result<Vec<String>, String> {
        request_argv(&Request {
            title: &self.title,
            software_release: &self.software_release,
            software_type: &self.software_type,
            state: self.state.map(InstanceState::as_str),
            shared: self.shared,
            computer_guid: self.computer_guid.as_deref(),
            parameters: self.parameters.as_ref(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bouture_text::shell_quote;

    fn params(pairs: &[(&str, Value)]) -> Parameters {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("slappart3"), "slappart3");
        assert_eq!(shell_quote("https://x.org/a.cfg"), "https://x.org/a.cfg");
        assert_eq!(shell_quote("ORS gNB"), "'ORS gNB'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote(r#"_={"a": 1}"#), r#"'_={"a": 1}'"#);
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn a_new_instance_names_everything() {
        let parameters = params(&[("_", Value::String(r#"{"a": 1}"#.into()))]);
        let argv = request_argv(&Request {
            title: "My inst",
            software_release: "https://x.org/sr.cfg",
            software_type: "default",
            state: Some("started"),
            shared: false,
            computer_guid: Some("COMP-1"),
            parameters: Some(&parameters),
        })
        .unwrap();
        assert_eq!(
            shell_line(&argv),
            r#"slapos request 'My inst' https://x.org/sr.cfg --type default --state started --node computer_guid=COMP-1 --parameters '_={"a": 1}'"#
        );
    }

    #[test]
    fn a_title_like_an_option_goes_after_double_dash() {
        let argv = request_argv(&Request {
            title: "-odd",
            software_release: "https://x.org/sr.cfg",
            software_type: "",
            state: Some("destroyed"),
            shared: true,
            computer_guid: None,
            parameters: None,
        })
        .unwrap();
        assert_eq!(
            shell_line(&argv),
            "slapos request --state destroyed --slave -- -odd https://x.org/sr.cfg"
        );
    }

    #[test]
    fn a_recorded_command_is_read_back_strictly_and_rebuilt_word_for_word() {
        let parameters = params(&[
            ("_", Value::String(r#"{"a": 1}"#.into())),
            ("b", Value::String("x=y --z".into())),
        ]);
        for request in [
            Request {
                title: "My inst",
                software_release: "https://x.org/sr.cfg",
                software_type: "default",
                state: Some("started"),
                shared: false,
                computer_guid: Some("COMP-1"),
                parameters: Some(&parameters),
            },
            Request {
                title: "-odd",
                software_release: "https://x.org/sr.cfg",
                software_type: "",
                state: Some("destroyed"),
                shared: true,
                computer_guid: None,
                parameters: None,
            },
        ] {
            let argv = request_argv(&request).unwrap();
            let parsed = OwnedRequest::parse(&argv).unwrap();
            assert_eq!(parsed.argv().unwrap(), argv);
        }
        let words = |line: &[&str]| line.iter().map(ToString::to_string).collect::<Vec<_>>();
        for bad in [
            words(&["sh", "-c", "rm -rf /"]),
            words(&["slapos", "request", "t"]),
            words(&["slapos", "request", "t", "sr", "extra"]),
            words(&["slapos", "request", "t", "sr", "--state", "exploded"]),
            words(&["slapos", "request", "t", "sr", "--type", "a", "--type", "b"]),
            words(&["slapos", "request", "t", "sr", "--cfg", "/etc/x"]),
            words(&["slapos", "request", "t", "sr", "--node", "computer_guid="]),
            // Valid for slapos, but not as bouture writes it: not rebuilt identically.
            words(&["slapos", "request", "t", "sr", "--slave", "--type", "a"]),
        ] {
            assert!(OwnedRequest::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parameters_the_command_line_cannot_carry() {
        for bad in [
            params(&[("a=b", Value::String("x".into()))]),
            params(&[("-a", Value::String("x".into()))]),
            params(&[("n", Value::from(2))]),
        ] {
            let error = request_argv(&Request {
                title: "t",
                software_release: "sr",
                software_type: "",
                state: None,
                shared: false,
                computer_guid: None,
                parameters: Some(&bad),
            })
            .unwrap_err();
            assert!(error.contains("--parameters"), "{error}");
        }
    }
}
