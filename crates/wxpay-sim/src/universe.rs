//! A complete, freshly generated test universe: every key, certificate, id and secret a
//! merchant and the simulator need to talk to each other.
//!
//! The shape mirrors WeChat's: one CA ("Tenpay.com Root CA") issues the merchant API
//! certificate (`apiclient_cert.pem`, CN = mchid) and the platform certificate ("Tenpay.com
//! sign"); the WeChat Pay public key is a bare RSA key with a `PUB_KEY_ID_…`. Serials are
//! 20 random bytes printed as 40 upper-case hex digits, like WeChat's.
//! Key generation is RSA-2048 through aws-lc-rs (constant time), via rcgen.

use std::path::Path;

use rand::{Rng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, RsaKeySize, SerialNumber, PKCS_RSA_SHA256,
};

use crate::config::{
    AppConfig, AppKind, Material, MerchantConfig, PlatformConfig, PublicKeyConfig, Secret,
    SigningMode, SimConfig, TlsConfig,
};
use crate::error::SimError;
use crate::ids::{random_alnum, random_digits};

/// A key pair with its certificate.
#[derive(Clone)]
pub struct Identity {
    /// PKCS#8 PEM private key.
    pub key_pem: String,
    /// PEM certificate.
    pub cert_pem: String,
    /// Certificate serial, 40 upper-case hex digits.
    pub serial: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("serial", &self.serial)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// An app id and secret of the universe.
#[derive(Debug, Clone)]
pub struct UniverseApp {
    /// `appid`.
    pub appid: String,
    /// AppSecret.
    pub secret: Secret,
    /// Kind.
    pub kind: AppKind,
}

/// Everything `wxpay-sim init` writes, held in memory.
#[derive(Debug, Clone)]
pub struct Universe {
    /// The issuing CA (self-signed).
    pub ca: Identity,
    /// Merchant id.
    pub mchid: String,
    /// Merchant API key + certificate (`apiclient_key.pem` / `apiclient_cert.pem`).
    pub merchant: Identity,
    /// Platform key + certificate.
    pub platform: Identity,
    /// `PUB_KEY_ID_…` of the WeChat Pay public key.
    pub public_key_id: String,
    /// WeChat Pay public key (SPKI PEM) — what the merchant configures.
    pub public_key_pem: String,
    /// Its private half (PKCS#8 PEM) — what the simulator signs with.
    pub public_key_private_pem: String,
    /// TLS server identity for the mutual-TLS endpoint (CN = localhost, SAN 127.0.0.1).
    pub tls_server: Identity,
    /// APIv3 key.
    pub apiv3_key: Secret,
    /// APIv2 key.
    pub apiv2_key: Secret,
    /// Mini-program, official account and mobile app.
    pub apps: Vec<UniverseApp>,
}

fn random_serial() -> (SerialNumber, String) {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Positive and of full length, so the hex form is always 40 digits.
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    (SerialNumber::from_slice(&bytes), hex)
}

fn random_hex_lower(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn rsa_key() -> Result<KeyPair, SimError> {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).map_err(SimError::Generate)
}

fn dn(pairs: &[(DnType, &str)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (ty, value) in pairs {
        name.push(ty.clone(), *value);
    }
    name
}

fn validity(params: &mut CertificateParams, years: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * years);
}

/// A generated CA that can issue further certificates (used again for platform rotation).
pub struct CertAuthority {
    params: CertificateParams,
    key: KeyPair,
    /// Its identity (PEMs and serial).
    pub identity: Identity,
}

impl CertAuthority {
    /// Generates a self-signed CA named like Tenpay's.
    pub fn generate() -> Result<Self, SimError> {
        let key = rsa_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[
            (DnType::CountryName, "CN"),
            (DnType::OrganizationName, "Tenpay.com"),
            (DnType::OrganizationalUnitName, "Tenpay.com CA Center"),
            (DnType::CommonName, "Tenpay.com Root CA (wxpay-sim)"),
        ]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let (serial, hex) = random_serial();
        params.serial_number = Some(serial);
        validity(&mut params, 20);
        let cert = params.self_signed(&key).map_err(SimError::Generate)?;
        let identity = Identity {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            serial: hex,
        };
        Ok(Self {
            params,
            key,
            identity,
        })
    }

    /// Issues a leaf certificate for a fresh RSA-2048 key.
    pub fn issue(
        &self,
        subject: DistinguishedName,
        sans: &[&str],
        years: i64,
    ) -> Result<Identity, SimError> {
        let key = rsa_key()?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(SimError::Generate)?;
        params.distinguished_name = subject;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let (serial, hex) = random_serial();
        params.serial_number = Some(serial);
        validity(&mut params, years);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(SimError::Generate)?;
        Ok(Identity {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            serial: hex,
        })
    }

    /// Issues a new platform certificate ("Tenpay.com sign"), as WeChat does on rotation.
    pub fn issue_platform(&self) -> Result<Identity, SimError> {
        self.issue(
            dn(&[
                (DnType::CountryName, "CN"),
                (DnType::OrganizationName, "Tenpay.com"),
                (DnType::OrganizationalUnitName, "Tenpay.com CA Center"),
                (DnType::CommonName, "Tenpay.com sign"),
            ]),
            &[],
            5,
        )
    }

    /// Rebuilds an authority from a stored identity (key + certificate PEM).
    pub fn from_identity(identity: &Identity) -> Result<Self, SimError> {
        let key = KeyPair::from_pem(&identity.key_pem).map_err(SimError::Generate)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[
            (DnType::CountryName, "CN"),
            (DnType::OrganizationName, "Tenpay.com"),
            (DnType::OrganizationalUnitName, "Tenpay.com CA Center"),
            (DnType::CommonName, "Tenpay.com Root CA (wxpay-sim)"),
        ]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ok(Self {
            params,
            key,
            identity: identity.clone(),
        })
    }
}

impl Universe {
    /// Generates a fresh universe (six RSA-2048 keys; takes a second or two).
    pub fn generate() -> Result<Self, SimError> {
        let ca = CertAuthority::generate()?;
        let mchid = format!("19{}", random_digits(8));
        let merchant = ca.issue(
            dn(&[
                (DnType::CountryName, "CN"),
                (DnType::OrganizationName, "微信商户系统"),
                (DnType::OrganizationalUnitName, "wxpay-sim test merchant"),
                (DnType::CommonName, &mchid),
            ]),
            &[],
            5,
        )?;
        let platform = ca.issue_platform()?;
        let tls_server = ca.issue(
            dn(&[(DnType::CommonName, "localhost")]),
            &["localhost", "127.0.0.1"],
            5,
        )?;
        let pk = rsa_key()?;
        let public_key_pem = pk.public_key_pem();
        let public_key_private_pem = pk.serialize_pem();
        let public_key_id = format!("PUB_KEY_ID_01{}", random_digits(34));
        let apps = vec![
            UniverseApp {
                appid: format!("wx{}", random_hex_lower(16)),
                secret: Secret(random_hex_lower(32)),
                kind: AppKind::MiniProgram,
            },
            UniverseApp {
                appid: format!("wx{}", random_hex_lower(16)),
                secret: Secret(random_hex_lower(32)),
                kind: AppKind::OfficialAccount,
            },
            UniverseApp {
                appid: format!("wx{}", random_hex_lower(16)),
                secret: Secret(random_hex_lower(32)),
                kind: AppKind::App,
            },
        ];
        Ok(Self {
            ca: ca.identity,
            mchid,
            merchant,
            platform,
            public_key_id,
            public_key_pem,
            public_key_private_pem,
            tls_server,
            apiv3_key: Secret(random_alnum(32)),
            apiv2_key: Secret(random_alnum(32)),
            apps,
        })
    }

    /// The app id of the first app of `kind`.
    pub fn appid(&self, kind: AppKind) -> Option<&str> {
        self.apps
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| a.appid.as_str())
    }

    fn merchant_config(&self, cert: Material) -> MerchantConfig {
        MerchantConfig {
            mchid: self.mchid.clone(),
            apiv3_key: self.apiv3_key.clone(),
            apiv2_key: self.apiv2_key.clone(),
            certs: vec![cert],
            appids: self.apps.iter().map(|a| a.appid.clone()).collect(),
            h5_domains: vec!["localhost".into(), "127.0.0.1".into()],
            native_callback_url: None,
            refund_balance_fen: 10_000_000_000,
        }
    }

    fn app_configs(&self) -> Vec<AppConfig> {
        self.apps
            .iter()
            .map(|a| AppConfig {
                appid: a.appid.clone(),
                secret: a.secret.clone(),
                kind: a.kind,
            })
            .collect()
    }

    /// A configuration holding all material inline, listening on `127.0.0.1:0`.
    pub fn sim_config(&self) -> SimConfig {
        SimConfig {
            listen: "127.0.0.1:0".into(),
            public_base_url: None,
            time_scale: 1.0,
            signing_mode: SigningMode::Certificate,
            state_file: None,
            token_grace_seconds: 300,
            login_rate_limit_per_minute: 100,
            refund_auto_success_seconds: None,
            private_line_notify_hosts: Vec::new(),
            platform: PlatformConfig {
                key: Material::inline(self.platform.key_pem.clone()),
                cert: Material::inline(self.platform.cert_pem.clone()),
            },
            public_key: PublicKeyConfig {
                id: self.public_key_id.clone(),
                private_key: Material::inline(self.public_key_private_pem.clone()),
            },
            merchants: vec![self.merchant_config(Material::inline(self.merchant.cert_pem.clone()))],
            apps: self.app_configs(),
            tls: Some(TlsConfig {
                listen: "127.0.0.1:0".into(),
                ca_cert: Material::inline(self.ca.cert_pem.clone()),
                server_cert: Material::inline(self.tls_server.cert_pem.clone()),
                server_key: Material::inline(self.tls_server.key_pem.clone()),
            }),
            base_dir: Default::default(),
        }
    }

    /// Writes keys, certificates, `sim.toml` and `merchant.toml` into `dir` (created if
    /// missing). The simulator listens on `listen` and its mutual-TLS listener (v2 refunds)
    /// on `tls_listen`; `merchant.toml` is a complete `wxpay-server` configuration pointing
    /// at both.
    pub fn write_dir(&self, dir: &Path, listen: &str, tls_listen: &str) -> Result<(), SimError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SimError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // Absolute, so `merchant.toml` works from any working directory (the server reads
        // secret files relative to its own working directory, not to the file).
        let dir = dir.canonicalize().map_err(io(dir))?;
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(&path))
        };
        write("ca_cert.pem", &self.ca.cert_pem)?;
        write("ca_key.pem", &self.ca.key_pem)?;
        write("apiclient_key.pem", &self.merchant.key_pem)?;
        write("apiclient_cert.pem", &self.merchant.cert_pem)?;
        write(
            MERCHANT_TLS_IDENTITY,
            &format!("{}\n{}", self.merchant.cert_pem, self.merchant.key_pem),
        )?;
        write("platform_key.pem", &self.platform.key_pem)?;
        write("platform_cert.pem", &self.platform.cert_pem)?;
        write("pub_key.pem", &self.public_key_pem)?;
        write("pub_key_private.pem", &self.public_key_private_pem)?;
        write("tls_server_cert.pem", &self.tls_server.cert_pem)?;
        write("tls_server_key.pem", &self.tls_server.key_pem)?;
        write(APIV3_KEY_FILE, self.apiv3_key.expose())?;
        write(APIV2_KEY_FILE, self.apiv2_key.expose())?;
        // The server refuses refunds through its API without a staff credential.
        write(ADMIN_TOKEN_FILE, &random_alnum(43))?;
        for app in &self.apps {
            write(&app_secret_file(app.kind), app.secret.expose())?;
        }

        let mut config = self.sim_config();
        config.listen = listen.to_owned();
        config.state_file = Some("state.json".into());
        config.platform = PlatformConfig {
            key: Material("platform_key.pem".into()),
            cert: Material("platform_cert.pem".into()),
        };
        config.public_key.private_key = Material("pub_key_private.pem".into());
        config.merchants = vec![self.merchant_config(Material("apiclient_cert.pem".into()))];
        config.refund_auto_success_seconds = Some(5);
        config.tls = Some(TlsConfig {
            listen: tls_listen.to_owned(),
            ca_cert: Material("ca_cert.pem".into()),
            server_cert: Material("tls_server_cert.pem".into()),
            server_key: Material("tls_server_key.pem".into()),
        });
        let mut sim_toml =
            String::from("# wxpay-sim configuration (generated by `wxpay-sim init`)\n");
        sim_toml.push_str(&with_callback_hint(&config.to_toml()?));
        write("sim.toml", &sim_toml)?;
        write(
            "merchant.toml",
            &self.merchant_snippet(
                &dir,
                &format!("http://{listen}"),
                &format!("https://{tls_listen}"),
            ),
        )?;
        Ok(())
    }

    /// A complete `wxpay-server` configuration (its `[server]`, `[database]`, `[merchant]`
    /// and `[upstream]` schema) for this universe, as TOML. Secrets are referenced as files
    /// in `dir` (the ones [`Universe::write_dir`] writes), so the text holds no key material.
    /// `base_url` is the simulator's plain listener (pay API and `api.weixin.qq.com` calls),
    /// `secapi_base_url` its mutual-TLS listener. Failover is disabled: a simulator fault
    /// must never send a merchant's request to WeChat's real second region.
    pub fn merchant_snippet(&self, dir: &Path, base_url: &str, secapi_base_url: &str) -> String {
        let file = |name: &str| {
            format!(
                "{{ file = {} }}",
                toml_str(&dir.join(name).display().to_string())
            )
        };
        let mut out = String::from(
            "# wxpay-server configuration for this wxpay-sim universe (generated by `wxpay-sim init`).\n\
             # Run: wxpay-server merchant.toml  (or WXPAY_CONFIG=merchant.toml; WXPAY_… variables override keys).\n",
        );
        let line =
            |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k} = {}\n", toml_str(v)));
        let raw = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k} = {v}\n"));

        out.push_str("\n[server]\n");
        line(&mut out, "host", "127.0.0.1");
        // The port the commented-out `native_callback_url` hint in sim.toml names.
        raw(&mut out, "port", "8080");
        // Staff credential for refunds (sent as X-Admin-Token).
        raw(&mut out, "admin_token", &file(ADMIN_TOKEN_FILE));

        out.push_str("\n[database]\n");
        line(
            &mut out,
            "url",
            &format!("sqlite://{}", dir.join("merchant.db").display()),
        );

        out.push_str("\n[merchant]\n");
        line(&mut out, "mchid", &self.mchid);
        line(&mut out, "serial_no", &self.merchant.serial);
        raw(&mut out, "private_key", &file("apiclient_key.pem"));
        raw(&mut out, "apiv3_key", &file(APIV3_KEY_FILE));
        raw(&mut out, "apiv2_key", &file(APIV2_KEY_FILE));
        out.push_str(
            "# certificate | public-key | both (the simulator's signing_mode must agree)\n",
        );
        line(&mut out, "verify_mode", "certificate");
        line(&mut out, "public_key_id", &self.public_key_id);
        raw(&mut out, "public_key", &file("pub_key.pem"));
        raw(&mut out, "client_cert_pem", &file(MERCHANT_TLS_IDENTITY));
        for app in &self.apps {
            let table = match app.kind {
                AppKind::MiniProgram => "miniprogram",
                AppKind::OfficialAccount => "official_account",
                AppKind::App => "app",
            };
            out.push_str(&format!("\n[merchant.{table}]\n"));
            line(&mut out, "appid", &app.appid);
            // An APP appid has no AppSecret on the merchant server's side.
            if app.kind != AppKind::App {
                raw(&mut out, "secret", &file(&app_secret_file(app.kind)));
            }
        }

        out.push_str("\n[upstream]\n");
        line(&mut out, "base_url", base_url);
        line(&mut out, "failover_base_url", "");
        line(&mut out, "open_api_base_url", base_url);
        line(&mut out, "secapi_base_url", secapi_base_url);
        raw(&mut out, "tls_root_pem", &file("ca_cert.pem"));
        out
    }
}

/// `cert + key` PEM the merchant server presents on the mutual-TLS listener.
const MERCHANT_TLS_IDENTITY: &str = "apiclient_cert_and_key.pem";
/// APIv3 key file.
const APIV3_KEY_FILE: &str = "apiv3_key.txt";
/// APIv2 key file.
const APIV2_KEY_FILE: &str = "apiv2_key.txt";
/// The merchant server's admin token (refunds), random per universe.
const ADMIN_TOKEN_FILE: &str = "admin_token.txt";

fn app_secret_file(kind: AppKind) -> String {
    let name = match kind {
        AppKind::MiniProgram => "miniprogram",
        AppKind::OfficialAccount => "official_account",
        AppKind::App => "app",
    };
    format!("{name}_secret.txt")
}

/// Adds a commented-out `native_callback_url` under each `[[merchants]]` header, so the
/// v2 mode-one setting is discoverable without pointing the simulator at a server that may
/// not exist.
fn with_callback_hint(toml_text: &str) -> String {
    let hint = "# v2 scan-pay mode one (支付回调URL): where a scanned product QR is posted, e.g.\n\
                # native_callback_url = \"http://127.0.0.1:8080/notify/v2/native-callback\"\n";
    let mut out = String::with_capacity(toml_text.len() + hint.len());
    for line in toml_text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[[merchants]]" {
            out.push_str(hint);
        }
    }
    out
}

fn toml_str(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}
