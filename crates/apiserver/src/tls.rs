//! Certificates, credentials and the kubeconfig, as k3s does it: a
//! self-signed CA kept in the data directory, a serving certificate for the
//! loopback names signed by it, and a random bearer token. The kubeconfig
//! embeds the CA and the token, so kubectl verifies the server and
//! authenticates without any other set-up.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use crate::Error;

/// The credentials a running server uses.
pub(crate) struct Credentials {
    /// PEM of the CA certificate (embedded in the kubeconfig).
    pub ca_pem: String,
    /// The bearer token clients must present.
    pub token: String,
    /// TLS configuration for the listener.
    pub server_config: Arc<rustls::ServerConfig>,
    /// Verifies a client certificate against the CA, after the handshake.
    pub client_verifier: Arc<dyn ClientCertVerifier>,
    /// The same certificate without the client-certificate request, for
    /// listeners that browsers use (the dashboard).
    pub browser_config: Arc<rustls::ServerConfig>,
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Loads the CA and token from `dir/pki`, creating them on first use, and
/// issues a fresh serving certificate for `hosts` (IPs or DNS names).
pub(crate) fn load_or_create(dir: &Path, hosts: &[String]) -> Result<Credentials, Error> {
    let pki = dir.join("pki");
    fs::create_dir_all(&pki)?;
    fs::set_permissions(&pki, fs::Permissions::from_mode(0o700))?;
    let ca_key_path = pki.join("ca.key");
    let ca_crt_path = pki.join("ca.crt");
    let token_path = pki.join("token");

    let ca_params = || -> Result<CertificateParams, Error> {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "joblite-ca");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(p)
    };

    let (ca_key, ca_pem) = if ca_key_path.exists() && ca_crt_path.exists() {
        let key = KeyPair::from_pem(&fs::read_to_string(&ca_key_path)?).map_err(tls_err)?;
        (key, fs::read_to_string(&ca_crt_path)?)
    } else {
        let key = KeyPair::generate().map_err(tls_err)?;
        let mut params = ca_params()?;
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let cert = params.self_signed(&key).map_err(tls_err)?;
        write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
        write_private(&ca_crt_path, cert.pem().as_bytes())?;
        (key, cert.pem())
    };
    // The issuer is rebuilt from the same parameters the CA was made with, so
    // the distinguished name and key identifier match the stored certificate.
    let issuer = Issuer::new(ca_params()?, ca_key);

    let token = match fs::read_to_string(&token_path) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let bytes: [u8; 32] = rand::rng().random();
            let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            write_private(&token_path, t.as_bytes())?;
            t
        }
    };

    let server_key = KeyPair::generate().map_err(tls_err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "joblite");
    params.distinguished_name = dn;
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut sans: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
    for h in hosts {
        if !sans.contains(h) {
            sans.push(h.clone());
        }
    }
    for h in sans {
        params
            .subject_alt_names
            .push(match h.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(h.try_into().map_err(tls_err)?),
            });
    }
    let cert = params.signed_by(&server_key, &issuer).map_err(tls_err)?;

    let ca_der = rustls_pemfile_der(&ca_pem)?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca_der.clone())
        .map_err(|e| Error::Tls(e.to_string()))?;
    let client_verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let verifier = Arc::new(RequestClientCert(client_verifier.clone()));
    let chain = vec![cert.der().clone(), ca_der];
    let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key())
        .map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut browser = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key())
        .map_err(|e| Error::Tls(e.to_string()))?;
    browser.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Credentials {
        ca_pem,
        token,
        client_verifier,
        server_config: Arc::new(config),
        browser_config: Arc::new(browser),
    })
}

/// kube-apiserver's `tls.RequestClientCert`
/// (`staging/src/k8s.io/apiserver/pkg/server/secure_serving.go`): the
/// handshake asks for a client certificate and takes any, whose private
/// key the client proves it holds; whether it chains to the CA and is
/// within its validity is the authenticator's question
/// ([`client_cert_verified`]), so a foreign or expired certificate gets the
/// 401 `Status` rather than a failed handshake.
#[derive(Debug)]
struct RequestClientCert(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The x509 authenticator (`staging/src/k8s.io/apiserver/pkg/
/// authentication/request/x509/x509.go`): a presented chain authenticates
/// only if it verifies against the CA now, for client authentication.
pub(crate) fn client_cert_verified(
    verifier: &dyn ClientCertVerifier,
    chain: Option<&[CertificateDer<'static>]>,
) -> bool {
    let Some((end_entity, intermediates)) = chain.and_then(|c| c.split_first()) else {
        return false;
    };
    verifier
        .verify_client_cert(end_entity, intermediates, UnixTime::now())
        .is_ok()
}

/// Go's `tlsRecordHeaderLooksLikeHTTP` (`net/http/server.go`): the first
/// five bytes of a plain HTTP request that Go's HTTPS server answers with
/// [`PLAIN_HTTP_ANSWER`] instead of a failed handshake.
pub(crate) fn looks_like_http(head: &[u8]) -> bool {
    matches!(head, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO")
}

/// What Go's `(*conn).serve` writes to such a client before closing.
pub(crate) const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

fn rustls_pemfile_der(pem: &str) -> Result<CertificateDer<'static>, Error> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::Tls(e.to_string()))
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::Tls(e.to_string())
}

/// Writes `dir/kubeconfig` (mode 0600) for `server` (e.g. `https://127.0.0.1:6443`).
pub(crate) fn write_kubeconfig(
    dir: &Path,
    server: &str,
    creds: &Credentials,
) -> Result<PathBuf, Error> {
    let ca = base64::engine::general_purpose::STANDARD.encode(creds.ca_pem.as_bytes());
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: joblite
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: joblite
  user:
    token: {token}
contexts:
- name: joblite
  context:
    cluster: joblite
    user: joblite
    namespace: default
current-context: joblite
preferences: {{}}
",
        token = creds.token
    );
    let path = dir.join("kubeconfig");
    write_private(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_gos_five_prefixes_look_like_http() {
        for h in ["GET /", "HEAD ", "POST ", "PUT /", "OPTIO"] {
            assert!(super::looks_like_http(h.as_bytes()), "{h}");
        }
        for h in ["PATCH", "GET h", "\x16\x03\x01\x02\x00", "DELET"] {
            assert!(!super::looks_like_http(h.as_bytes()), "{h}");
        }
    }
}
