//! Headless Chromium driven over WebDriver: chromedriver started by the test on a port of
//! its own choosing, a browser with a fresh profile that resolves no host but this machine,
//! and screenshots in target/screenshots/.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use super::{eventually, skip};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const WAIT: Duration = Duration::from_secs(30);

/// A chromedriver child process; killed when dropped.
pub struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts chromedriver on a port of its own choosing (`--port=0`), read from the line it
/// prints once it listens, and waits until it is ready.
pub async fn start_driver(log: &Path) -> Driver {
    let log_file = std::fs::File::create(log).expect("chromedriver log");
    let out_path = log.with_extension("out");
    let out_file = std::fs::File::create(&out_path).expect("chromedriver output");
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .arg("--allowed-ips=127.0.0.1")
        .stdout(out_file)
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn chromedriver");
    let port = std::cell::Cell::new(None);
    let listening = eventually(30, || {
        port.set(driver_port(
            &std::fs::read_to_string(&out_path).unwrap_or_default(),
        ));
        async { port.get().is_some() }
    })
    .await;
    assert!(
        listening,
        "chromedriver did not say which port it listens on"
    );
    let url = format!("http://127.0.0.1:{}", port.get().expect("port"));
    let status = format!("{url}/status");
    let http = reqwest::Client::new();
    let ready = eventually(30, || {
        let (http, status) = (http.clone(), status.clone());
        async move {
            match http.get(&status).send().await {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            }
        }
    })
    .await;
    assert!(ready, "chromedriver did not become ready on {url}");
    Driver { child, url }
}

/// The port in chromedriver's `ChromeDriver was started successfully on port N.`
fn driver_port(output: &str) -> Option<u16> {
    let (_, rest) = output.split_once("started successfully on port ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub async fn start_browser(driver: &Driver, profile: &Path) -> Client {
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-default-apps".into(),
        "--disable-domain-reliability".into(),
        "--disable-features=HttpsUpgrades,OptimizationHints,Translate,MediaRouter".into(),
        "--no-proxy-server".into(),
        // Nothing but this machine: every host name except localhost fails to resolve.
        "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2".into(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1000,800".into(),
    ];
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    client
        .set_window_size(1000, 800)
        .await
        .expect("window size");
    client
}

pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Saves a PNG atomically (the two backends' runs may save at the same moment).
pub async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    let dir = screenshot_dir();
    let tmp = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, png).expect("write screenshot");
    std::fs::rename(&tmp, dir.join(name)).expect("rename screenshot");
}

/// Whether Chromium and chromedriver are installed; says SKIP when they are not.
pub fn available() -> bool {
    let there = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !there {
        skip("Chromium and chromedriver");
    }
    there
}

/// Runs `scenario` in a fresh Chromium (its own chromedriver, logging to `log`, and a new
/// profile), closes the browser whatever the outcome, then fails the test on an error: a
/// scenario returns its errors so that no browser is left open by a panic.
pub async fn in_chromium(log: &Path, scenario: impl AsyncFnOnce(&Client) -> Result<(), String>) {
    let driver = start_driver(log).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = scenario(&browser).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

/// The element `locator` finds once it is there (within [`WAIT`]); the error says that
/// `what` was missing.
pub async fn wait_for(
    browser: &Client,
    locator: Locator<'_>,
    what: &str,
) -> Result<Element, String> {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(locator)
        .await
        .map_err(|e| format!("no {what}: {e}"))
}

/// The text of the element `locator` finds once it is there. An element of a page that went
/// away between finding and reading it (a form just submitted) is looked for again.
pub async fn text_of(browser: &Client, locator: Locator<'_>, what: &str) -> Result<String, String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let element = wait_for(browser, locator, what).await?;
        match element.text().await {
            Ok(text) => return Ok(text),
            Err(e)
                if e.to_string().contains("stale element")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Clicks the element `locator` finds now.
pub async fn click(browser: &Client, locator: Locator<'_>) -> Result<(), String> {
    let element = browser.find(locator).await.map_err(|e| e.to_string())?;
    element.click().await.map_err(|e| e.to_string())
}

/// Types `text` into the field with id `id` once it is there (after what it holds).
pub async fn fill(browser: &Client, id: &str, text: &str) -> Result<(), String> {
    let field = wait_for(browser, Locator::Id(id), &format!("{id} field")).await?;
    field.send_keys(text).await.map_err(|e| e.to_string())
}

/// Opens `url`, which shows a sign-in form, and signs in there with `username` and
/// `password`.
pub async fn sign_in_at(
    browser: &Client,
    url: &str,
    username: &str,
    password: &str,
) -> Result<(), String> {
    browser.goto(url).await.map_err(|e| e.to_string())?;
    fill(browser, "username", username).await?;
    fill(browser, "password", password).await?;
    click(browser, Locator::Css("button[type=submit]")).await
}
