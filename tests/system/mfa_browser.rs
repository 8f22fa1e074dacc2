//! The account page and two-step sign-in in a real headless Chromium: sign in, set up an
//! authenticator app from the QR code's page (the code computed from the key shown), see the
//! recovery codes once, then sign in again with a code after the password. Screenshots of
//! each page in target/screenshots/ (account.png, totp-enrolment.png,
//! totp-recovery-codes.png, login-second-step.png). Over HTTP without a browser:
//! tests/api/totp.rs and tests/api/second_step.rs.

use fantoccini::{Client, Locator};

use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{spawn_app, Backend, TestApp};

const PASSWORD: &str = "alice's long password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_up_an_app_and_signs_in_with_its_code_in_chromium() {
    use crate::browser::{start_browser, start_driver, CHROMEDRIVER, CHROMIUM};
    use std::path::Path;
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        crate::helpers::skip("Chromium and chromedriver");
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let driver = start_driver(&app.storage.dir.path().join("chromedriver.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = in_chromium(&app, &browser).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn fill(browser: &Client, id: &str, text: &str) -> Result<(), String> {
    use crate::browser::WAIT;
    let input = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id(id))
        .await
        .map_err(|e| format!("no field {id}: {e}"))?;
    input.send_keys(text).await.map_err(|e| e.to_string())
}

async fn click(browser: &Client, css: &str) -> Result<(), String> {
    browser
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no {css}: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())
}

async fn text_of(browser: &Client, css: &str) -> Result<String, String> {
    use crate::browser::WAIT;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("no {css}: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// Scrolls the authenticator section into the screenshot.
async fn show_section(browser: &Client) -> Result<(), String> {
    browser
        .execute("document.getElementById('totp').scrollIntoView()", vec![])
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn sign_in_with_password(app: &TestApp, browser: &Client) -> Result<(), String> {
    browser
        .goto(&app.url("/account"))
        .await
        .map_err(|e| e.to_string())?;
    fill(browser, "username", "alice").await?;
    fill(browser, "password", PASSWORD).await?;
    click(browser, "button[type=submit]").await
}

async fn in_chromium(app: &TestApp, browser: &Client) -> Result<(), String> {
    use crate::browser::screenshot;
    sign_in_with_password(app, browser).await?;
    let lead = text_of(browser, "#profile .lead").await?;
    if !lead.contains("alice") {
        return Err(format!("the account page says: {lead}"));
    }
    screenshot(browser, "account.png").await;

    fill(browser, "totp-password", PASSWORD).await?;
    click(browser, "form[action='/account/totp'] button").await?;
    let shown = text_of(browser, "#totp-secret").await?;
    browser
        .find(Locator::Css(".qr svg"))
        .await
        .map_err(|e| format!("no QR code: {e}"))?;
    show_section(browser).await?;
    screenshot(browser, "totp-enrolment.png").await;
    let secret = base32_decode(shown.trim());
    fill(browser, "totp-code", &code(&secret, app.clock.now())).await?;
    click(browser, "form[action='/account/totp/confirm'] button").await?;
    let codes = text_of(browser, "#recovery-codes").await?;
    if codes.matches('-').count() < 10 {
        return Err(format!("the recovery codes shown: {codes}"));
    }
    show_section(browser).await?;
    screenshot(browser, "totp-recovery-codes.png").await;

    // Signed out (the cookies gone), then in again: the second step after the password.
    browser
        .delete_all_cookies()
        .await
        .map_err(|e| e.to_string())?;
    sign_in_with_password(app, browser).await?;
    let title = text_of(browser, "h1").await?;
    if title != "Two-step sign-in" {
        return Err(format!("after the password: {title}"));
    }
    screenshot(browser, "login-second-step.png").await;
    app.advance(30);
    fill(browser, "code", &code(&secret, app.clock.now())).await?;
    click(browser, "button[type=submit]").await?;
    let lead = text_of(browser, "#totp").await?;
    if !lead.contains("10 of 10 recovery codes left") {
        return Err(format!("back on the account page: {lead}"));
    }
    Ok(())
}
