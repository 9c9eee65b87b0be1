//! Throwaway mutual-TLS material for scenarios whose client presents a certificate: a CA, a
//! server certificate for `127.0.0.1` (Envoy's listener) and a client certificate carrying the
//! scenario's URI SAN (e.g. a SPIFFE ID), all issued when the scenario runs. Nothing is
//! checked in and nothing outlives the run's work directory.

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files Envoy's listener reads, and the client's TLS configuration.
pub struct MutualTls {
    /// CA that issued both certificates (PEM file): Envoy trusts client certificates from it.
    pub ca: PathBuf,
    /// Server certificate for `127.0.0.1` (PEM file).
    pub server_cert: PathBuf,
    /// Server private key (PEM file).
    pub server_key: PathBuf,
    /// Client side: trusts the CA, presents the client certificate.
    pub client: Arc<rustls::ClientConfig>,
}

/// Issues a CA, a server certificate and a client certificate with URI SAN `client_uri`,
/// writing Envoy's files into `dir`. Fails if `client_uri` is not a valid URI SAN.
pub fn issue(dir: &Path, client_uri: &str) -> anyhow::Result<MutualTls> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "warden scenario CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(vec!["localhost".to_string()])?;
    server_params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    server_params.distinguished_name.push(DnType::CommonName, "warden scenario listener");
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    let uri = client_uri.try_into().with_context(|| format!("client_certificate.uri_san `{client_uri}`"))?;
    client_params.subject_alt_names.push(SanType::URI(uri));
    client_params.distinguished_name.push(DnType::CommonName, "warden scenario client");
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    let files = MutualTls {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client: Arc::new(client_config(ca_cert.der().clone(), client_cert.der().clone(), &client_key)?),
    };
    std::fs::write(&files.ca, ca_cert.pem())?;
    std::fs::write(&files.server_cert, server_cert.pem())?;
    std::fs::write(&files.server_key, server_key.serialize_pem())?;
    Ok(files)
}

fn client_config(
    ca: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: &KeyPair,
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)?;
    Ok(config)
}

/// Envoy's listener `transport_socket`: TLS that requires a client certificate from the CA.
pub fn listener_transport_socket(tls: &MutualTls) -> serde_json::Value {
    serde_json::json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": true,
            "common_tls_context": {
                "tls_certificates": [{
                    "certificate_chain": {"filename": tls.server_cert.display().to_string()},
                    "private_key": {"filename": tls.server_key.display().to_string()}
                }],
                "validation_context": {"trusted_ca": {"filename": tls.ca.display().to_string()}}
            }
        }
    })
}
