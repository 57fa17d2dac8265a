//! HTTP clients that work with or without the operating system's CA certificates.
//!
//! reqwest verifies TLS with the platform's certificate store. A static binary copied into a minimal
//! container (no `/etc/ssl/certs`) has none, and building a client would fail outright, even one that only
//! ever speaks plain HTTP to miners. [`build_client`] then falls back to the Mozilla root certificates
//! compiled into the binary (`webpki-root-certs`), so btvep still starts and HTTPS still verifies.

/// Builds a client configured by `configure`, falling back to the bundled root certificates when the
/// system store is unusable.
///
/// # Errors
/// The original build error when the fallback fails too.
pub fn build_client(
    configure: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Result<reqwest::Client> {
    match configure(reqwest::Client::builder()).build() {
        Ok(client) => Ok(client),
        Err(system_store_error) => {
            let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok());
            match configure(reqwest::Client::builder())
                .tls_certs_only(roots)
                .build()
            {
                Ok(client) => {
                    tracing::debug!("no usable system CA certificates ({system_store_error}); using the bundled Mozilla roots");
                    Ok(client)
                }
                Err(_) => Err(system_store_error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_client() {
        assert!(super::build_client(|b| b.no_proxy()).is_ok());
        assert!(!webpki_root_certs::TLS_SERVER_ROOT_CERTS.is_empty());
    }
}
