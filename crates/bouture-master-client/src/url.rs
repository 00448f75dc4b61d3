//! The one check of a master URL, for every part of bouture that takes one.

/// A master URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("master URL `{url}` {problem}")]
#[non_exhaustive]
pub struct InvalidMasterUrl {
    /// The URL given.
    pub url: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Check that `url` can be a SlapOS master's URL (and a `master_url` in a
/// node configuration): `http://` or `https://`, a host, and no white space
/// or control character anywhere.
///
/// ```
/// use bouture_master_client::check_master_url;
///
/// assert!(check_master_url("http://10.0.0.1:4000").is_ok());
/// assert!(check_master_url("https://[2001:db8::1]:4000/x%20y").is_ok());
/// for bad in ["", "ftp://x", "127.0.0.1:80", "http://", "http:///x", "http://a b"] {
///     assert!(check_master_url(bad).is_err(), "{bad}");
/// }
/// ```
pub fn check_master_url(url: &str) -> Result<(), InvalidMasterUrl> {
    let fail = |problem| InvalidMasterUrl {
        url: url.to_string(),
        problem,
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| fail("must start with http:// or https://"))?;
    if rest.split('/').next().is_none_or(str::is_empty) {
        return Err(fail("has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("must not contain white space or control characters"));
    }
    Ok(())
}
