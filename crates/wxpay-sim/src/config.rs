//! Simulator configuration: one TOML file plus command-line flags.
//!
//! Key material is given either inline (a value starting with `-----BEGIN`) or as a path
//! relative to the configuration file's directory, so the file written by `wxpay-sim init`
//! stays portable and a test can build a fully in-memory configuration.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// Which key signs responses and notifications (API v3 "签名模式").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SigningMode {
    /// Platform certificate (`Wechatpay-Serial` is the certificate serial).
    #[default]
    Certificate,
    /// WeChat Pay public key (`Wechatpay-Serial` is `PUB_KEY_ID_…`); `/v3/certificates` is refused.
    PublicKey,
    /// Switch-over: signed with the public key while certificates stay downloadable.
    Both,
}

impl SigningMode {
    /// Whether responses are signed with the WeChat Pay public key.
    pub fn signs_with_public_key(self) -> bool {
        !matches!(self, Self::Certificate)
    }

    /// Whether `GET /v3/certificates` is served.
    pub fn serves_certificates(self) -> bool {
        !matches!(self, Self::PublicKey)
    }
}

/// A secret string whose `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value (use only where the protocol needs it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// PEM material: inline text or a file path (relative to the config file's directory).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Material(pub String);

impl Material {
    /// Inline PEM text.
    pub fn inline(pem: impl Into<String>) -> Self {
        Self(pem.into())
    }

    /// Reads the PEM text, resolving a relative path against `base`.
    pub fn load(&self, base: &Path) -> Result<String, SimError> {
        if self.0.trim_start().starts_with("-----BEGIN") {
            return Ok(self.0.clone());
        }
        let path = base.join(&self.0);
        std::fs::read_to_string(&path).map_err(|source| SimError::Io { path, source })
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.trim_start().starts_with("-----BEGIN") {
            f.write_str("Material(<inline pem>)")
        } else {
            write!(f, "Material({:?})", self.0)
        }
    }
}

/// The platform ("微信支付平台证书") signing identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformConfig {
    /// Platform private key (PKCS#8 PEM).
    pub key: Material,
    /// Platform certificate (PEM); its serial is the `Wechatpay-Serial` in certificate mode.
    pub cert: Material,
}

/// The WeChat Pay public-key ("微信支付公钥") signing identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicKeyConfig {
    /// `PUB_KEY_ID_…`.
    pub id: String,
    /// The simulator's private half (PKCS#8 PEM).
    pub private_key: Material,
}

/// One merchant (直连商户) the simulator accepts requests from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MerchantConfig {
    /// `mchid`.
    pub mchid: String,
    /// APIv3 key (32 ASCII bytes) used for notification and certificate encryption.
    pub apiv3_key: Secret,
    /// APIv2 key (32 characters) used for v2 XML signatures.
    pub apiv2_key: Secret,
    /// Merchant API certificates accepted for `Authorization` (looked up by serial).
    pub certs: Vec<Material>,
    /// App ids bound to this merchant.
    pub appids: Vec<String>,
    /// Domains allowed as the H5 page's `Referer` (H5 支付域名).
    #[serde(default)]
    pub h5_domains: Vec<String>,
    /// v2 scan-pay mode one: the merchant's "支付回调URL".
    #[serde(default)]
    pub native_callback_url: Option<String>,
    /// Funds available for refunds, in fen (`NOT_ENOUGH` when a refund exceeds it).
    #[serde(default = "default_balance")]
    pub refund_balance_fen: u64,
}

fn default_balance() -> u64 {
    10_000_000_000
}

/// What kind of WeChat app an app id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// 小程序: `jscode2session`.
    MiniProgram,
    /// 公众号: OAuth web authorisation, access token, JS-SDK ticket.
    OfficialAccount,
    /// 移动应用 (APP pay).
    App,
}

/// An app id and its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppConfig {
    /// `appid`.
    pub appid: String,
    /// AppSecret.
    pub secret: Secret,
    /// Kind of app.
    pub kind: AppKind,
}

/// Mutual-TLS listener for `/secapi/pay/refund` (API v2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TlsConfig {
    /// Listen address of the TLS listener (`127.0.0.1:0` picks a port).
    #[serde(default = "default_tls_listen")]
    pub listen: String,
    /// CA that issued the merchants' client certificates (and the server certificate).
    pub ca_cert: Material,
    /// Server certificate chain (PEM).
    pub server_cert: Material,
    /// Server private key (PKCS#8 PEM).
    pub server_key: Material,
}

fn default_tls_listen() -> String {
    "127.0.0.1:0".to_owned()
}

/// The whole simulator configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Listen address (`127.0.0.1:0` picks a free port).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Base URL printed into `h5_url`, cashier links and `code_url` pages; defaults to the bound address.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Multiplies the waits the simulator itself runs on timers — notification retries, the
    /// grace period of a replaced access token, refund auto-completion: `0.001` turns
    /// WeChat's 15 s first retry into 15 ms. Lifetimes the protocol prints or that merchants
    /// check against their own clocks are *not* scaled: prepay ids and `code_url` (2 h),
    /// `h5_url` (5 min), `time_expire`, login/OAuth codes (5 min), access tokens and
    /// `jsapi_ticket` (2 h, the `expires_in` in the responses). Age those through the
    /// control API (`…/expire-link`, `/login/codes/{code}/expire`, `/tokens/{t}/expire`,
    /// `/tickets/{appid}/expire`, `/orders/{no}/expire`).
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Which key signs responses and notifications.
    #[serde(default)]
    pub signing_mode: SigningMode,
    /// Where state is kept across restarts (JSON); in memory only when absent.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// Seconds a replaced `access_token` keeps working (WeChat: about 5 minutes).
    #[serde(default = "default_token_grace")]
    pub token_grace_seconds: u64,
    /// `jscode2session` / OAuth calls per minute per app before `45011`.
    #[serde(default = "default_login_rate")]
    pub login_rate_limit_per_minute: u32,
    /// Seconds after which a PROCESSING refund succeeds on its own; never when absent.
    #[serde(default)]
    pub refund_auto_success_seconds: Option<u64>,
    /// Hosts a `notify_url` may reach over plain `http://`, as WeChat allows for a merchant
    /// on a private line (专线: its NAT IP or private callback domain). Any other
    /// `notify_url` must be `https://`, or `http://` to a loopback host (A.8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_line_notify_hosts: Vec<String>,
    /// Platform certificate identity.
    pub platform: PlatformConfig,
    /// WeChat Pay public-key identity.
    pub public_key: PublicKeyConfig,
    /// Merchants.
    pub merchants: Vec<MerchantConfig>,
    /// App ids and secrets.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// Mutual-TLS listener for the v2 refund endpoint; disabled when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_listen() -> String {
    "127.0.0.1:8700".to_owned()
}
fn default_time_scale() -> f64 {
    1.0
}
fn default_token_grace() -> u64 {
    300
}
fn default_login_rate() -> u32 {
    100
}

impl SimConfig {
    /// Parses TOML text; relative material paths resolve against `base_dir`.
    pub fn from_toml(text: &str, base_dir: impl Into<PathBuf>) -> Result<Self, SimError> {
        let mut config: SimConfig = toml::from_str(text).map_err(SimError::ConfigSyntax)?;
        config.base_dir = base_dir.into();
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML configuration file.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_toml(&text, base)
    }

    /// Serialises back to TOML.
    pub fn to_toml(&self) -> Result<String, SimError> {
        toml::to_string_pretty(self).map_err(SimError::ConfigWrite)
    }

    /// Checks cross-field rules that serde cannot express.
    pub fn validate(&self) -> Result<(), SimError> {
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return Err(SimError::Config(
                "time_scale must be a positive number".into(),
            ));
        }
        if self.merchants.is_empty() {
            return Err(SimError::Config(
                "at least one [[merchants]] entry is required".into(),
            ));
        }
        for m in &self.merchants {
            if m.apiv3_key.expose().len() != 32 {
                return Err(SimError::Config(format!(
                    "merchant {}: apiv3_key must be 32 bytes",
                    m.mchid
                )));
            }
            if m.apiv2_key.expose().len() != 32 {
                return Err(SimError::Config(format!(
                    "merchant {}: apiv2_key must be 32 characters",
                    m.mchid
                )));
            }
            if m.certs.is_empty() {
                return Err(SimError::Config(format!(
                    "merchant {}: at least one merchant certificate",
                    m.mchid
                )));
            }
        }
        if !self.public_key.id.starts_with("PUB_KEY_ID_") {
            return Err(SimError::Config(
                "public_key.id must start with PUB_KEY_ID_".into(),
            ));
        }
        Ok(())
    }

    /// Scales a protocol delay given in seconds by `time_scale`.
    pub fn scaled(&self, seconds: f64) -> std::time::Duration {
        scale_seconds(seconds, self.time_scale)
    }
}

/// `seconds × time_scale` as a duration; never panics (a negative or NaN product is zero,
/// an overflowing one is the longest duration).
pub fn scale_seconds(seconds: f64, time_scale: f64) -> std::time::Duration {
    let product = seconds * time_scale;
    if product.is_nan() || product <= 0.0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::try_from_secs_f64(product).unwrap_or(std::time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Secret("topsecret".into());
        assert!(!format!("{s:?}").contains("topsecret"));
        let m = Material::inline("-----BEGIN PRIVATE KEY-----\nabc\n");
        assert!(!format!("{m:?}").contains("abc"));
    }

    #[test]
    fn scaling_never_panics() {
        use std::time::Duration;
        assert_eq!(scale_seconds(15.0, 0.001), Duration::from_millis(15));
        assert_eq!(scale_seconds(15.0, f64::NAN), Duration::ZERO);
        assert_eq!(scale_seconds(-1.0, 1.0), Duration::ZERO);
        assert_eq!(scale_seconds(21_600.0, 1e300), Duration::MAX);
        assert_eq!(scale_seconds(1.0, f64::INFINITY), Duration::MAX);
    }

    #[test]
    fn signing_mode_parses_kebab_case() {
        #[derive(Deserialize)]
        struct W {
            m: SigningMode,
        }
        let w: W = toml::from_str("m = \"public-key\"").expect("parse");
        assert_eq!(w.m, SigningMode::PublicKey);
        assert!(w.m.signs_with_public_key());
        assert!(!w.m.serves_certificates());
        assert!(SigningMode::Both.serves_certificates());
    }
}
