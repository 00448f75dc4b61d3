//! Does an `http://` master's port speak TLS?
//!
//! The slapproxy software release publishes `slapproxy-ipv6-url` as `http://[…]:4000` while its
//! haproxy speaks TLS on that port: a plain HTTP request then gets an answer that is not HTTP,
//! or a closed connection. When that happens, [`https_instead`] opens a TLS handshake to the
//! same host and port (accepting any certificate: it only asks whether TLS answers) and, if one
//! completes, gives the `https://` URL to use.

use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

/// The `https://` form of `base` (an `http://` URL) when its port completes a TLS handshake.
pub(crate) fn https_instead(base: &str, timeout: Duration) -> Option<String> {
    let rest = base.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = split_authority(authority)?;
    let address = (host.as_str(), port).to_socket_addrs().ok()?.next()?;
    let mut socket = TcpStream::connect_timeout(&address, timeout).ok()?;
    socket.set_read_timeout(Some(timeout)).ok()?;
    socket.set_write_timeout(Some(timeout)).ok()?;
    let provider = crate::provider::provider();
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(crate::tls::any_certificate(provider))
        .with_no_client_auth();
    let name = ServerName::try_from(host).ok()?;
    let mut connection = ClientConnection::new(Arc::new(config), name).ok()?;
    while connection.is_handshaking() {
        connection.complete_io(&mut socket).ok()?;
    }
    let https = format!("https://{authority}");
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        // No explicit port: http's 80 must now be written.
        format!("https://{authority}:{port}")
    } else {
        https
    };
    Some(format!(
        "{with_port}{}",
        rest.get(authority.len()..).unwrap_or_default()
    ))
}

/// `host` (without IPv6 brackets) and port (80 when absent) of an authority.
fn split_authority(authority: &str) -> Option<(String, u16)> {
    let authority = authority.rsplit('@').next()?;
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), 80)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(
            split_authority("127.0.0.1:4000"),
            Some(("127.0.0.1".into(), 4000))
        );
        assert_eq!(
            split_authority("[2001:db8::1]:4000"),
            Some(("2001:db8::1".into(), 4000))
        );
        assert_eq!(
            split_authority("[2001:db8::1]"),
            Some(("2001:db8::1".into(), 80))
        );
        assert_eq!(
            split_authority("example.org"),
            Some(("example.org".into(), 80))
        );
        assert_eq!(split_authority("h:notaport"), None);
    }

    #[test]
    fn a_closed_port_is_not_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert_eq!(
            https_instead(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)),
            None
        );
    }
}
