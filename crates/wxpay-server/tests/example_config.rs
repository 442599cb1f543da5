//! `examples/server/wxpay-server.toml` (the real-merchant template) must match the settings
//! schema: it parses, start-up fails only on its placeholder secrets, and with real key
//! material swapped in through `WXPAY_…` variables the server builds.

use std::path::{Path, PathBuf};

use wxpay_server::app::{Application, StartError};
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_server::secret::SecretError;
use wxpay_sim::universe::Universe;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/server/wxpay-server.toml")
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn local(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("WXPAY_SERVER__PORT", "0".to_owned()),
        (
            "WXPAY_DATABASE__URL",
            format!("sqlite://{}", dir.join("example.db").display()),
        ),
    ]
}

#[test]
fn parses_with_every_documented_mode() {
    let settings = Settings::load_with_env(Some(&example()), Vec::new()).expect("schema");
    let merchant = settings.merchant.expect("[merchant]");
    assert_eq!(merchant.verify_mode, VerifyMode::Certificate);
    assert!(merchant.apiv2_key.is_some() && merchant.client_cert_pem.is_some());
    assert!(merchant.miniprogram.is_some() && merchant.official_account.is_some());
    assert_eq!(settings.products.len(), 2);
    for (mode, want) in [
        ("public-key", VerifyMode::PublicKey),
        ("both", VerifyMode::Both),
    ] {
        let s = Settings::load_with_env(
            Some(&example()),
            env(&[("WXPAY_MERCHANT__VERIFY_MODE", mode.to_owned())]),
        )
        .expect("mode override");
        assert_eq!(s.merchant.expect("merchant").verify_mode, want);
    }
}

#[tokio::test]
async fn start_up_fails_only_on_the_placeholder_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings =
        Settings::load_with_env(Some(&example()), env(&local(dir.path()))).expect("load");
    match Application::build(settings).await {
        Err(StartError::Secret(SecretError::File { path, .. })) => {
            assert_eq!(path, Path::new("/etc/wxpay/apiclient_key.pem"));
        }
        Err(other) => panic!("expected the placeholder key file to be missing, got {other:?}"),
        Ok(_) => panic!("placeholder configuration must not start"),
    }
}

#[tokio::test]
async fn builds_once_the_secrets_are_real() {
    let dir = tempfile::tempdir().expect("temp dir");
    let universe = Universe::generate().expect("test universe");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write secret");
        format!("{{ file = \"{}\" }}", path.display())
    };
    let mut vars = local(dir.path());
    vars.extend([
        // public-key mode: no certificate download, so no network is needed to build.
        ("WXPAY_MERCHANT__VERIFY_MODE", "public-key".to_owned()),
        (
            "WXPAY_MERCHANT__PRIVATE_KEY",
            write("apiclient_key.pem", &universe.merchant.key_pem),
        ),
        (
            "WXPAY_MERCHANT__APIV3_KEY",
            write("apiv3", universe.apiv3_key.expose()),
        ),
        (
            "WXPAY_MERCHANT__APIV2_KEY",
            write("apiv2", universe.apiv2_key.expose()),
        ),
        (
            "WXPAY_MERCHANT__PUBLIC_KEY",
            write("pub_key.pem", &universe.public_key_pem),
        ),
        (
            "WXPAY_MERCHANT__CLIENT_CERT_PEM",
            write(
                "cert_and_key.pem",
                &format!(
                    "{}\n{}",
                    universe.merchant.cert_pem, universe.merchant.key_pem
                ),
            ),
        ),
        (
            "WXPAY_MERCHANT__MINIPROGRAM__SECRET",
            write("mp_secret", "0123456789abcdef0123456789abcdef"),
        ),
        (
            "WXPAY_MERCHANT__OFFICIAL_ACCOUNT__SECRET",
            write("oa_secret", "0123456789abcdef0123456789abcdef"),
        ),
    ]);
    let settings = Settings::load_with_env(Some(&example()), env(&vars)).expect("load");
    let app = Application::build(settings)
        .await
        .unwrap_or_else(|e| panic!("the template with real secrets must build: {e:?}"));
    assert!(
        app.simulator_url().is_none(),
        "a [merchant] means no embedded simulator"
    );
    assert_eq!(app.state().public_url, "https://pay.example.com");
}
