//! The account page and two-step sign-in in a real headless Chromium: sign in, set up an
//! authenticator app from the QR code's page (the code computed from the key shown), see the
//! recovery codes once, then sign in again with a code after the password. Screenshots of
//! each page in target/screenshots/ (account.png, totp-enrolment.png,
//! totp-recovery-codes.png, login-second-step.png). Over HTTP without a browser:
//! tests/api/totp.rs and tests/api/second_step.rs.

use fantoccini::{Client, Locator};

use crate::helpers::chromium::{self, click, fill, screenshot, sign_in_at, text_of};
use crate::helpers::totp::{base32_decode, code};
use crate::helpers::{spawn_app, Backend, TestApp};

const PASSWORD: &str = "alice's long password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_up_an_app_and_signs_in_with_its_code_in_chromium() {
    if !chromium::available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.add_user("alice", PASSWORD, false).await;
    let log = app.storage.dir.path().join("chromedriver.log");
    chromium::in_chromium(&log, async |browser| scenario(&app, browser).await).await;
}

/// Scrolls the authenticator section into the screenshot.
async fn show_section(browser: &Client) -> Result<(), String> {
    browser
        .execute("document.getElementById('totp').scrollIntoView()", vec![])
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The account page's sign-in with alice's password.
async fn sign_in_with_password(app: &TestApp, browser: &Client) -> Result<(), String> {
    sign_in_at(browser, &app.url("/account"), "alice", PASSWORD).await
}

async fn scenario(app: &TestApp, browser: &Client) -> Result<(), String> {
    sign_in_with_password(app, browser).await?;
    let lead = text_of(browser, Locator::Css("#profile .lead"), "#profile .lead").await?;
    if !lead.contains("alice") {
        return Err(format!("the account page says: {lead}"));
    }
    screenshot(browser, "account.png").await;

    fill(browser, "totp-password", PASSWORD).await?;
    click(browser, Locator::Css("form[action='/account/totp'] button")).await?;
    let shown = text_of(browser, Locator::Css("#totp-secret"), "#totp-secret").await?;
    browser
        .find(Locator::Css(".qr svg"))
        .await
        .map_err(|e| format!("no QR code: {e}"))?;
    show_section(browser).await?;
    screenshot(browser, "totp-enrolment.png").await;
    let secret = base32_decode(shown.trim());
    fill(browser, "totp-code", &code(&secret, app.clock.now())).await?;
    click(
        browser,
        Locator::Css("form[action='/account/totp/confirm'] button"),
    )
    .await?;
    let codes = text_of(browser, Locator::Css("#recovery-codes"), "#recovery-codes").await?;
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
    // The login page has an h1 too: read the title once the second step's field is there.
    chromium::wait_for(browser, Locator::Id("code"), "code field").await?;
    let title = text_of(browser, Locator::Css("h1"), "h1").await?;
    if title != "Two-step sign-in" {
        return Err(format!("after the password: {title}"));
    }
    screenshot(browser, "login-second-step.png").await;
    app.advance(30);
    fill(browser, "code", &code(&secret, app.clock.now())).await?;
    click(browser, Locator::Css("button[type=submit]")).await?;
    let lead = text_of(browser, Locator::Css("#totp"), "#totp").await?;
    if !lead.contains("10 of 10 recovery codes left") {
        return Err(format!("back on the account page: {lead}"));
    }
    Ok(())
}
