//! Layered configuration: built-in defaults, then a TOML file, then `WXPAY_…` variables.
//!
//! Environment variables address TOML keys with double underscores:
//! `WXPAY_SERVER__PORT=8080` sets `[server] port`, `WXPAY_MERCHANT__MCHID=1900000001` sets
//! `[merchant] mchid`. A value is taken as a plain string, so a digit-only merchant id or
//! secret stays a string; only a value written as an inline table or array
//! (`{ file = "/run/secrets/key.pem" }`) is read as TOML. Numeric and boolean settings
//! accept their text (`"8080"`, `"false"`) from any layer (see [`from_text`]).
//!
//! The local demo (the simulator in-process, its generated test universe as the merchant,
//! a demo login and an admin token handed to anyone who asks) runs only when asked for:
//! `demo = true` here or `wxpay-server --demo`. Otherwise a `[merchant]` section is
//! required, and a configuration without one stops the start.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::secret::SecretSource;

/// The environment-variable prefix.
pub const ENV_PREFIX: &str = "WXPAY_";

/// Everything the server needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Run the local demo on the embedded simulator instead of a real merchant account
    /// (`--demo` sets it too). Refused beside a `[merchant]` section.
    #[serde(default, deserialize_with = "from_text")]
    pub demo: bool,
    /// Listener and HTTP behaviour.
    #[serde(default)]
    pub server: ServerSettings,
    /// Where orders live.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// The merchant account; required unless `demo` is set.
    #[serde(default)]
    pub merchant: Option<MerchantSettings>,
    /// WeChat hosts and HTTP client behaviour.
    #[serde(default)]
    pub upstream: UpstreamSettings,
    /// Reconciliation worker.
    #[serde(default)]
    pub worker: WorkerSettings,
    /// Abuse limits.
    #[serde(default)]
    pub limits: LimitSettings,
    /// Products offered (the server decides prices). Seeded into the store at start.
    #[serde(default = "default_products")]
    pub products: Vec<ProductSettings>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one (tests).
    #[serde(deserialize_with = "from_text")]
    pub port: u16,
    /// Public base URL used to build `notify_url`s; defaults to `http://<host>:<bound port>`.
    /// WeChat requires HTTPS on a public host, so with a `[merchant]` the start fails unless
    /// it is `https://…` or plain HTTP to a loopback host (a local simulator).
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes (notifications are a few KiB).
    #[serde(deserialize_with = "from_text")]
    pub body_limit_bytes: usize,
    /// Header set by a trusted reverse proxy carrying the client IP (e.g. `x-forwarded-for`
    /// or `x-real-ip`), used for the login and admin-token limits and H5 `payer_client_ip`;
    /// without it the socket peer address is used. In a list (`X-Forwarded-For: a, b, c`)
    /// the right-most entry is taken: it is the one the proxy appended, while the entries
    /// before it come from the client and can be forged. So set this only when exactly one
    /// trusted proxy sits in front of the server, and make sure it appends to (or replaces)
    /// the header rather than passing a client's header through untouched.
    pub trusted_proxy_header: Option<String>,
    /// Directory of static demo pages served at `/`.
    pub static_dir: Option<PathBuf>,
    /// Session lifetime in seconds.
    #[serde(deserialize_with = "from_text")]
    pub session_ttl_secs: i64,
    /// How long a stop waits for requests in progress before it gives up on them, in
    /// seconds. Bounded so that a client that never finishes its request cannot hold a
    /// restart; keep it below your service manager's kill timeout.
    #[serde(deserialize_with = "from_text")]
    pub shutdown_grace_secs: u64,
    /// The merchant staff's credential, sent as `X-Admin-Token`. Refunds move the
    /// merchant's money, so they need it rather than a payer's session; without it, refunds
    /// through the API are disabled. At least 16 characters; prefer a file or env source.
    pub admin_token: Option<SecretSource>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: None,
            body_limit_bytes: 64 * 1024,
            trusted_proxy_header: None,
            static_dir: None,
            session_ttl_secs: 7 * 24 * 3600,
            shutdown_grace_secs: 20,
            admin_token: None,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (created if missing) for one instance, or
    /// `postgres://user@host/db` for several instances on one database.
    pub url: String,
    /// PostgreSQL: the pool's size. SQLite: reader connections kept open (it has one writer,
    /// and opens more readers while more reads run at once).
    #[serde(deserialize_with = "from_text")]
    pub max_connections: u32,
    /// When SQLite syncs the write-ahead log to disk (`normal` or `full`; SQLite only).
    pub synchronous: Synchronous,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://wxpay-server.db".into(),
            max_connections: 8,
            synchronous: Synchronous::Full,
        }
    }
}

/// SQLite's `PRAGMA synchronous` for the WAL journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Sync at checkpoints only: an application crash loses nothing, but a power failure or
    /// OS crash can take back the last commits, acknowledged notifications included (the
    /// reconciliation worker's queries find those payments again). Opt-in only.
    Normal,
    /// Sync the log on every commit: nothing acknowledged is lost, at one fsync per commit
    /// (writes arriving together share one commit; see `scripts/bench-load.sh`). The
    /// default: the ledger is money.
    #[default]
    Full,
}

/// How WeChat's signatures on responses and notifications are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    /// Platform certificates downloaded from `/v3/certificates`.
    #[default]
    Certificate,
    /// The WeChat Pay public key with its `PUB_KEY_ID_…`.
    PublicKey,
    /// Both, during a switch-over: whichever the serial names.
    Both,
}

/// `[merchant]`: the merchant account and its secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantSettings {
    /// 商户号.
    pub mchid: String,
    /// Serial of the merchant API certificate (`serial_no` in `Authorization`).
    pub serial_no: String,
    /// Merchant API private key, PKCS#8 PEM (`apiclient_key.pem`).
    pub private_key: SecretSource,
    /// APIv3 key (32 ASCII bytes).
    pub apiv3_key: SecretSource,
    /// APIv2 key, for v2 notifications and the mode-one callback.
    #[serde(default)]
    pub apiv2_key: Option<SecretSource>,
    /// Verification mode.
    #[serde(default)]
    pub verify_mode: VerifyMode,
    /// `PUB_KEY_ID_…` of the WeChat Pay public key (public-key / both modes).
    #[serde(default)]
    pub public_key_id: Option<String>,
    /// The WeChat Pay public key, SPKI PEM.
    #[serde(default)]
    pub public_key: Option<SecretSource>,
    /// Client certificate PEM for v2 `/secapi/` calls over mutual TLS.
    #[serde(default)]
    pub client_cert_pem: Option<SecretSource>,
    /// Sign type of v2 requests and v2 client parameters: `HMAC-SHA256` (default) or `MD5`.
    #[serde(default)]
    pub apiv2_sign_type: Option<String>,
    /// Sign type of the scan-pay mode-one callback WeChat sends and of the merchant's reply:
    /// `MD5` (default). WeChat's pages give both `sign` fields a width of 32 characters, which
    /// only MD5 fits, but never name the algorithm outright; this setting exists in case a
    /// merchant finds otherwise.
    #[serde(default)]
    pub apiv2_mode_one_sign_type: Option<String>,
    /// Mini-program app.
    #[serde(default)]
    pub miniprogram: Option<AppCredentials>,
    /// Official account (WeChat browser: jsapi / jssdk / OAuth; also used for h5 and native).
    #[serde(default)]
    pub official_account: Option<AppCredentials>,
    /// Mobile app (Open Platform appid).
    #[serde(default)]
    pub app: Option<AppCredentials>,
}

/// An appid and its AppSecret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCredentials {
    /// The appid.
    pub appid: String,
    /// The AppSecret (login, OAuth, access tokens); an APP appid needs none.
    #[serde(default)]
    pub secret: Option<SecretSource>,
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Pay API base URL.
    pub base_url: String,
    /// Second region, used on 5xx and connection errors. Defaults to WeChat's second
    /// region; an empty string disables failover (a TOML file cannot unset a key, and a
    /// simulator setup must never fail over to the real host).
    pub failover_base_url: Option<String>,
    /// Base URL of `api.weixin.qq.com` (login, OAuth, access token, ticket).
    pub open_api_base_url: String,
    /// Per-attempt timeout in milliseconds.
    #[serde(deserialize_with = "from_text")]
    pub timeout_ms: u64,
    /// Extra attempts for idempotent calls (queries, certificate download).
    #[serde(deserialize_with = "from_text")]
    pub max_retries: u32,
    /// First backoff delay in milliseconds; doubles per attempt.
    #[serde(deserialize_with = "from_text")]
    pub backoff_ms: u64,
    /// Refresh platform certificates this often, in seconds.
    #[serde(deserialize_with = "from_text")]
    pub certificate_refresh_secs: u64,
    /// Base URL for v2 `/secapi/` calls over mutual TLS; `base_url` when absent (WeChat
    /// serves both on one host; the simulator has a separate TLS listener).
    pub secapi_base_url: Option<String>,
    /// An extra root certificate (PEM) trusted for mutual-TLS calls (the simulator's CA).
    pub tls_root_pem: Option<SecretSource>,
    /// Largest answer body read from WeChat, in bytes; a larger one is refused unread
    /// (`UpstreamError::BodyTooLarge`). API answers are a few KiB (bills are not downloaded).
    #[serde(deserialize_with = "from_text")]
    pub max_response_bytes: usize,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.mch.weixin.qq.com".into(),
            failover_base_url: Some("https://api2.mch.weixin.qq.com".into()),
            open_api_base_url: "https://api.weixin.qq.com".into(),
            timeout_ms: 10_000,
            max_retries: 2,
            backoff_ms: 200,
            certificate_refresh_secs: 12 * 3600,
            secapi_base_url: None,
            tls_root_pem: None,
            max_response_bytes: 1024 * 1024,
        }
    }
}

impl UpstreamSettings {
    /// The failover base URL, if one is configured and not empty.
    pub fn failover_url(&self) -> Option<String> {
        self.failover_base_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .map(str::to_owned)
    }
}

/// `[worker]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Run the reconciliation loop in this instance.
    #[serde(deserialize_with = "from_text")]
    pub enabled: bool,
    /// Seconds between passes.
    #[serde(deserialize_with = "from_text")]
    pub interval_secs: u64,
    /// An unpaid order is queried once it is this old (seconds) and its last check is this old.
    #[serde(deserialize_with = "from_text")]
    pub pending_after_secs: i64,
    /// Unpaid orders older than this are closed (seconds; WeChat's own limit is 7 days).
    #[serde(deserialize_with = "from_text")]
    pub close_after_secs: i64,
    /// How long one instance holds a row it is working on (seconds).
    #[serde(deserialize_with = "from_text")]
    pub lease_secs: i64,
    /// The order and refund status endpoints query WeChat when the last check is older
    /// than this (seconds).
    #[serde(deserialize_with = "from_text")]
    pub status_stale_secs: i64,
    /// Days the notification log is kept; older rows are deleted by the worker. At least 2,
    /// as WeChat retries a notification for about a day and a retry must find its first
    /// receipt.
    #[serde(deserialize_with = "from_text")]
    pub notification_retention_days: i64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 30,
            pending_after_secs: 60,
            close_after_secs: 2 * 3600,
            lease_secs: 60,
            status_stale_secs: 5,
            notification_retention_days: 90,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Login attempts per client IP per minute.
    #[serde(deserialize_with = "from_text")]
    pub login_per_minute: u32,
    /// Wrong `X-Admin-Token`s per client IP per minute; past it, even the right token is
    /// answered 429 until the minute is over (guessing gets no feedback).
    #[serde(deserialize_with = "from_text")]
    pub admin_failures_per_minute: u32,
    /// Notification requests that fail verification, per client IP (IPv6: per /64) per
    /// minute; past it they are answered 429 and not recorded. Verified notifications are
    /// never limited.
    #[serde(deserialize_with = "from_text")]
    pub notify_failures_per_minute: u32,
    /// The same, from all clients together (bounds what many addresses can store).
    #[serde(deserialize_with = "from_text")]
    pub notify_failures_per_minute_total: u32,
    /// Orders one user may create per minute (each may become a WeChat prepay).
    #[serde(deserialize_with = "from_text")]
    pub orders_per_minute: u32,
    /// Pay calls one user may make per minute (a new prepay is a WeChat call; the merchant's
    /// WeChat rate limit is shared by all users).
    #[serde(deserialize_with = "from_text")]
    pub pay_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            login_per_minute: 30,
            admin_failures_per_minute: 10,
            notify_failures_per_minute: 30,
            notify_failures_per_minute_total: 600,
            orders_per_minute: 10,
            pay_per_minute: 20,
        }
    }
}

/// `[[products]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSettings {
    /// Stable product id.
    pub id: String,
    /// Name shown in the bill (becomes the order description).
    pub name: String,
    /// Price in fen.
    #[serde(deserialize_with = "from_text")]
    pub price_fen: i64,
}

fn default_products() -> Vec<ProductSettings> {
    vec![
        ProductSettings {
            id: "coffee".into(),
            name: "Coffee 咖啡".into(),
            price_fen: 1,
        },
        ProductSettings {
            id: "tea".into(),
            name: "Tea 茶".into(),
            price_fen: 2,
        },
        ProductSettings {
            id: "cake".into(),
            name: "Cake 蛋糕".into(),
            price_fen: 1500,
        },
    ]
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            demo: false,
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            merchant: None,
            upstream: UpstreamSettings::default(),
            worker: WorkerSettings::default(),
            limits: LimitSettings::default(),
            products: default_products(),
        }
    }
}

/// The configuration could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("configuration file {path} is not valid TOML")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser error.
        #[source]
        source: toml::de::Error,
    },
    /// The merged configuration does not fit the schema (unknown key, wrong type).
    #[error("invalid configuration")]
    Schema(#[source] toml::de::Error),
}

impl Settings {
    /// Loads `path` (if given) and then the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut root = toml::Table::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            root = text
                .parse::<toml::Table>()
                .map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?;
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // Settings always live in a section (`WXPAY_SECTION__KEY`); a name without `__`
            // (WXPAY_CONFIG, or a secret referenced as `{ env = "WXPAY_APIV3_KEY" }`, or a
            // tool's own variable) is not a setting and must not be refused as one.
            if !rest.contains("__") {
                continue;
            }
            let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
            set_path(&mut root, &keys, parse_env_value(&value));
        }
        toml::Value::Table(root)
            .try_into()
            .map_err(ConfigError::Schema)
    }
}

/// An environment value as the settings tree sees it: text, unless it is written as an inline
/// table or array. Reading `1900000001` or `true` as TOML would hand a number or a boolean
/// to a string field (a merchant id, a digit-only secret) and fail the load; the fields
/// that want numbers parse the text themselves ([`from_text`]).
fn parse_env_value(raw: &str) -> toml::Value {
    let text = toml::Value::String(raw.to_owned());
    if !raw.trim_start().starts_with(['{', '[']) {
        return text;
    }
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut table) => table.remove("v").unwrap_or(text),
        Err(_) => text,
    }
}

/// Deserializes a numeric or boolean setting from its typed TOML value or from its text,
/// since environment variables arrive as text ([`parse_env_value`]).
fn from_text<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + FromStr,
    T::Err: Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TypedOrText<T> {
        Typed(T),
        Text(String),
    }
    match TypedOrText::<T>::deserialize(deserializer)? {
        TypedOrText::Typed(value) => Ok(value),
        TypedOrText::Text(text) => text
            .trim()
            .parse()
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}"))),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_file_or_env() {
        let settings = Settings::load_with_env(None, Vec::new()).expect("defaults");
        assert!(settings.merchant.is_none());
        assert!(!settings.demo, "the demo runs only when asked for");
        assert_eq!(settings.server.port, 8080);
        assert!(!settings.products.is_empty());
    }

    #[test]
    fn database_synchronous_from_file_or_env() {
        assert_eq!(
            Settings::load_with_env(None, Vec::new())
                .expect("defaults")
                .database
                .synchronous,
            Synchronous::Full
        );
        let env = vec![(
            "WXPAY_DATABASE__SYNCHRONOUS".to_owned(),
            "normal".to_owned(),
        )];
        let settings = Settings::load_with_env(None, env).expect("env");
        assert_eq!(settings.database.synchronous, Synchronous::Normal);
        let env = vec![("WXPAY_DATABASE__SYNCHRONOUS".to_owned(), "off".to_owned())];
        assert!(Settings::load_with_env(None, env).is_err());
    }

    #[test]
    fn env_overrides_file() {
        let dir = std::env::temp_dir().join(format!("wxpay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            "[server]\nport = 9000\nhost = \"0.0.0.0\"\n[merchant]\nmchid = \"1900000001\"\nserial_no = \"AB\"\n\
             private_key = { file = \"/k.pem\" }\napiv3_key = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .expect("write");
        let env = vec![
            ("WXPAY_SERVER__PORT".to_owned(), "9100".to_owned()),
            (
                "WXPAY_MERCHANT__VERIFY_MODE".to_owned(),
                "public-key".to_owned(),
            ),
            (
                "WXPAY_UPSTREAM__BASE_URL".to_owned(),
                "http://127.0.0.1:1".to_owned(),
            ),
            ("OTHER".to_owned(), "x".to_owned()),
            // Not settings: no section separator.
            ("WXPAY_TOOLS".to_owned(), "/opt/tools".to_owned()),
            ("WXPAY_APIV3_KEY".to_owned(), "secret".to_owned()),
        ];
        let settings = Settings::load_with_env(Some(&path), env).expect("load");
        assert_eq!(settings.server.port, 9100);
        assert_eq!(settings.server.host, "0.0.0.0");
        assert_eq!(settings.upstream.base_url, "http://127.0.0.1:1");
        let merchant = settings.merchant.expect("merchant");
        assert_eq!(merchant.verify_mode, VerifyMode::PublicKey);
        assert!(!format!("{:?}", merchant.apiv3_key).contains("0123456789"));
    }

    #[test]
    fn an_empty_failover_url_disables_failover() {
        let defaults = Settings::load_with_env(None, Vec::new()).expect("defaults");
        assert!(defaults.upstream.failover_url().is_some());
        let env = vec![(
            "WXPAY_UPSTREAM__FAILOVER_BASE_URL".to_owned(),
            String::new(),
        )];
        let off = Settings::load_with_env(None, env).expect("load");
        assert_eq!(off.upstream.failover_url(), None);
    }

    #[test]
    fn the_admin_token_is_a_secret_source_from_any_layer() {
        let defaults = Settings::load_with_env(None, Vec::new()).expect("defaults");
        assert!(
            defaults.server.admin_token.is_none(),
            "refunds off by default"
        );
        let env = vec![(
            "WXPAY_SERVER__ADMIN_TOKEN".to_owned(),
            "{ file = \"/run/secrets/admin_token\" }".to_owned(),
        )];
        let from_file = Settings::load_with_env(None, env).expect("load");
        assert!(matches!(
            from_file.server.admin_token,
            Some(SecretSource::File { ref file }) if file == Path::new("/run/secrets/admin_token")
        ));
        let env = vec![(
            "WXPAY_SERVER__ADMIN_TOKEN".to_owned(),
            "inline-admin-token-value".to_owned(),
        )];
        let inline = Settings::load_with_env(None, env).expect("load");
        let token = inline.server.admin_token.expect("set");
        assert!(!format!("{token:?}").contains("inline-admin"));
        assert_eq!(
            token.load().expect("inline").expose(),
            "inline-admin-token-value"
        );
    }

    #[test]
    fn digit_only_env_values_stay_strings_and_numbers_parse_from_text() {
        let env: Vec<(String, String)> = [
            // The module documentation's own example.
            ("WXPAY_MERCHANT__MCHID", "1900000001"),
            ("WXPAY_MERCHANT__SERIAL_NO", "0123456789"),
            ("WXPAY_MERCHANT__PRIVATE_KEY", "{ file = \"/k.pem\" }"),
            (
                "WXPAY_MERCHANT__APIV3_KEY",
                "01234567890123456789012345678901",
            ),
            ("WXPAY_SERVER__PORT", "9100"),
            ("WXPAY_SERVER__ADMIN_TOKEN", "1234567890123456"),
            ("WXPAY_WORKER__ENABLED", "false"),
            ("WXPAY_LIMITS__LOGIN_PER_MINUTE", " 7 "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = Settings::load_with_env(None, env).expect("load");
        let merchant = settings.merchant.expect("merchant");
        assert_eq!(merchant.mchid, "1900000001");
        assert_eq!(merchant.serial_no, "0123456789");
        assert_eq!(
            merchant.apiv3_key.load().expect("inline").expose(),
            "01234567890123456789012345678901"
        );
        let admin = settings.server.admin_token.expect("admin token");
        assert_eq!(admin.load().expect("inline").expose(), "1234567890123456");
        assert_eq!(settings.server.port, 9100);
        assert!(!settings.worker.enabled);
        assert_eq!(settings.limits.login_per_minute, 7);

        let env = vec![("WXPAY_SERVER__PORT".to_owned(), "70000".to_owned())];
        assert!(matches!(
            Settings::load_with_env(None, env),
            Err(ConfigError::Schema(_))
        ));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let env = vec![("WXPAY_SERVER__PROT".to_owned(), "1".to_owned())];
        assert!(matches!(
            Settings::load_with_env(None, env),
            Err(ConfigError::Schema(_))
        ));
    }
}
