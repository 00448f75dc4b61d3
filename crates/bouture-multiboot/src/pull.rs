//! `image_pull_url` over http(s): an image source downloaded into a private
//! temporary directory (mode 0700, removed whatever ends the run), its size
//! bounded by the image's partitions (a larger announced length is refused
//! before reading, a longer body stopped at the bound), the whole transfer
//! under one deadline, and the checksum given in the URL's fragment
//! (`#sha256=HEX`, `#sha384=HEX` or `#sha512=HEX`, as pip writes it; the
//! fragment is never sent) verified before the file is used. The URL shown
//! in messages has no user, password or query (they may hold secrets).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, io};

/// The checksums verified: (name in the fragment, algorithm).
const ALGORITHMS: &[(&str, &ring::digest::Algorithm)] = &[
    ("sha256", &ring::digest::SHA256),
    ("sha384", &ring::digest::SHA384),
    ("sha512", &ring::digest::SHA512),
];

/// The deadline of a whole download when none is given (an hour).
pub const PULL_DEADLINE: Duration = Duration::from_hours(1);
/// The longest URL accepted.
const URL_LIMIT: usize = 8192;

/// Whether an image source is a URL to download (`http://`, `https://`).
pub(crate) fn is_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A URL as shown in messages: scheme, host and path, without the user,
/// password, query or fragment.
pub(crate) fn shown(url: &str) -> String {
    let url = url.split(['#', '?']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return bouture_text::truncate(url, 200);
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    bouture_text::truncate(&format!("{scheme}://{host}{path}"), 200)
}

/// A URL to download and the checksum its fragment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    url: String,
    checksum: Option<(&'static str, Vec<u8>)>,
}

fn parse(image: &str, text: &str) -> Result<Request, Error> {
    let refuse = |message: String| Error::Pull {
        image: image.to_owned(),
        url: shown(text),
        message,
    };
    if text.len() > URL_LIMIT {
        return Err(refuse(format!("longer than {URL_LIMIT} bytes")));
    }
    let (url, fragment) = match text.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (text, None),
    };
    let checksum = match fragment {
        None => None,
        Some(fragment) => {
            let (name, hex) = fragment.split_once('=').ok_or_else(|| {
                refuse(format!(
                    "the fragment '#{}' is not ALGORITHM=HEX (sha256, sha384, sha512)",
                    bouture_text::truncate(fragment, 40)
                ))
            })?;
            let name = name.to_ascii_lowercase();
            let Some((known, algorithm)) = ALGORITHMS.iter().find(|(n, _)| *n == name) else {
                return Err(refuse(format!(
                    "checksum algorithm '{}' is not one bouture verifies (sha256, sha384, sha512)",
                    bouture_text::truncate(&name, 40)
                )));
            };
            let digest = decode_hex(hex)
                .filter(|d| d.len() == algorithm.output_len())
                .ok_or_else(|| {
                    refuse(format!(
                        "the {known} checksum must be {} hexadecimal digits",
                        algorithm.output_len() * 2
                    ))
                })?;
            Some((*known, digest))
        }
    };
    Ok(Request {
        url: url.to_owned(),
        checksum,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A downloaded source: the file, in a private directory removed on drop.
#[derive(Debug)]
pub(crate) struct Pulled {
    /// Held for its removal on drop.
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Pulled {
    /// The downloaded file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Download `url` (a source of `image`) into a private directory in
/// `parent`: at most `limit` bytes, within `deadline`, its fragment's
/// checksum verified; `cancel` stops it.
pub(crate) fn pull(
    image: &str,
    url: &str,
    limit: u64,
    deadline: Duration,
    parent: &Path,
    cancel: Option<&AtomicUsize>,
) -> Result<Pulled, Error> {
    let request = parse(image, url)?;
    let failed = |message: String| Error::Pull {
        image: image.to_owned(),
        url: shown(url),
        message,
    };
    let dir = tempfile::Builder::new()
        .prefix(".bouture-pull-")
        .tempdir_in(parent)
        .map_err(io(parent, "cannot create a download directory"))?;
    let path = dir.path().join("source");
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(deadline))
        .timeout_connect(Some(deadline.min(Duration::from_secs(30))))
        .user_agent(concat!("bouture-multiboot/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let response = agent
        .get(&request.url)
        .call()
        .map_err(|error| failed(describe(&error, deadline)))?;
    let status = response.status();
    if status != 200 {
        return Err(failed(format!("the server answered {status}")));
    }
    let announced = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = announced.filter(|l| *l > limit) {
        return Err(failed(format!(
            "announces {length} bytes, more than the {limit} bytes of the image's partitions: nothing was downloaded"
        )));
    }
    let mut body = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io(&path, "cannot create"))?;
    let mut context = request
        .checksum
        .as_ref()
        .and_then(|(name, _)| ALGORITHMS.iter().find(|(n, _)| n == name))
        .map(|(_, algorithm)| ring::digest::Context::new(algorithm));
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst) != 0) {
            return Err(Error::Interrupted);
        }
        let n = body
            .read(&mut buffer)
            .map_err(|error| failed(read_error(&error, deadline)))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(failed(format!(
                "sends more than the {limit} bytes of the image's partitions: stopped, the download removed"
            )));
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        if let Some(context) = &mut context {
            context.update(chunk);
        }
        file.write_all(chunk).map_err(io(&path, "cannot write"))?;
    }
    file.sync_all().map_err(io(&path, "cannot flush"))?;
    if let (Some((name, expected)), Some(context)) = (&request.checksum, context) {
        let actual = context.finish();
        if actual.as_ref() != expected.as_slice() {
            return Err(failed(format!(
                "{name} mismatch: expected {}, downloaded {}: the download removed",
                hex(expected),
                hex(actual.as_ref())
            )));
        }
    }
    Ok(Pulled { _dir: dir, path })
}

fn describe(error: &ureq::Error, deadline: Duration) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("no answer within {} s", deadline.as_secs()),
        other => bouture_text::truncate(&other.to_string(), 300),
    }
}

fn read_error(error: &std::io::Error, deadline: Duration) -> String {
    let text = error.to_string();
    if text.to_ascii_lowercase().contains("timeout")
        || matches!(
            error.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
    {
        format!(
            "the download did not finish within {} s: stopped, the download removed",
            deadline.as_secs()
        )
    } else {
        format!("the download broke: {}", bouture_text::truncate(&text, 300))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{is_url, parse, shown};

    #[test]
    fn fragments_name_a_known_checksum() {
        let sha = "a".repeat(64);
        let request = parse("u", &format!("http://h/x.tar#sha256={sha}")).unwrap();
        assert_eq!(request.url, "http://h/x.tar");
        assert_eq!(request.checksum.unwrap().0, "sha256");
        let error = parse("u", "http://h/x#md5=d41d8cd98f00b204e9800998ecf8427e").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("checksum algorithm 'md5' is not one bouture verifies"),
            "{error}"
        );
        let error = parse("u", "http://h/x#sha256=abc").unwrap_err();
        assert!(
            error.to_string().contains("64 hexadecimal digits"),
            "{error}"
        );
        assert!(parse("u", "http://h/x#whatever").is_err());
        assert!(is_url("HTTPS://h/x") && is_url("http://h") && !is_url("/srv/http://x"));
        assert_eq!(
            shown("https://user:secret@h:8080/a/b.tar?token=s3#sha256=00"),
            "https://h:8080/a/b.tar"
        );
    }
}
