//! An SNS signing certificate, read: the RSA public key of the X.509 certificate found at
//! a message's `SigningCertURL`. The ingress layer fetches the PEM (the network is not
//! verify's business) and hands the parsed key to `verify` with the URL it came from.

use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

/// Why fetched bytes are no usable signing certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("not a PEM X.509 certificate")]
    NotACertificate,
    #[error("the certificate's key is not an RSA key of 1024 to 4096 bits")]
    NotRsa,
}

/// The public key of the certificate at `url`, ready to verify with.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    url: String,
    key: RsaPublicKey,
}

impl std::fmt::Debug for SigningCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCertificate")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SigningCertificate {
    /// Reads the certificate `pem` fetched from `url`. Neither its validity dates nor its
    /// issuer are checked: like AWS's validators, hookgate trusts the certificate for
    /// where it came from (HTTPS from an allowed SNS origin), and reads no clock here.
    pub fn from_pem(url: &str, pem: &[u8]) -> Result<Self, CertificateError> {
        let certificate =
            Certificate::from_pem(pem).map_err(|_| CertificateError::NotACertificate)?;
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| CertificateError::NotACertificate)?;
        let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| CertificateError::NotRsa)?;
        let bits = key.size() * 8;
        if !(1024..=4096).contains(&bits) {
            return Err(CertificateError::NotRsa);
        }
        Ok(Self {
            url: url.to_owned(),
            key,
        })
    }

    /// Where the certificate was fetched from.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn key(&self) -> &RsaPublicKey {
        &self.key
    }
}
