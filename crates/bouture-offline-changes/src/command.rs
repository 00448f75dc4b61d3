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

use bouture_master_client::Parameters;
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
                    crate::strict_json::bounded(key)
                ));
            }
            let Value::String(text) = value else {
                return Err(format!(
                    "the parameter {:?} is not a string ({}), and `--parameters` only sends \
                     strings; request the new parameters above with `slapos request \
                     --parameters-file FILE.json --force-serialisation xml`",
                    crate::strict_json::bounded(key),
                    crate::strict_json::bounded(&value.to_string())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bouture_text::{shell_line, shell_quote};

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
