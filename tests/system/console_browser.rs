//! The admin console in a real headless Chromium: sign in, rotate behind the confirmation,
//! register a client and see its secret once, read the audit log. Over HTTP without a
//! browser: tests/api/console.rs.

use fantoccini::Locator;

use crate::helpers::chromium::{self, click, fill, screenshot, sign_in_at, text_of, wait_for};
use crate::helpers::{spawn_app, Backend, TestApp, ADMIN_PASSWORD};

/// Screenshots in target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_uses_the_console_in_chromium() {
    if !chromium::available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let _ = app.admin_token().await;
    let before = app.current_kid().await;
    let log = app.storage.dir.path().join("chromedriver.log");
    chromium::in_chromium(&log, async |browser| {
        console_in_chromium(&app, browser).await
    })
    .await;
    assert_ne!(app.current_kid().await, before, "the rotation happened");
    assert!(app.state.accounts.find_client("web").await.is_ok());
}

async fn console_in_chromium(app: &TestApp, browser: &fantoccini::Client) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    sign_in_at(browser, &app.url("/console"), "root", ADMIN_PASSWORD).await?;
    wait_for(
        browser,
        Locator::LinkText("Rotate…"),
        "keys page after sign-in",
    )
    .await?;
    screenshot(browser, "console-keys.png").await;

    click(browser, Locator::LinkText("Rotate…")).await?;
    // The confirmation's own form: the header holds a sign-out form too.
    let confirm = wait_for(
        browser,
        Locator::Css("form[action='/console/keys/rotate'] button"),
        "confirmation",
    )
    .await?;
    screenshot(browser, "console-rotate-confirm.png").await;
    confirm.click().await.map_err(fail)?;
    let notice = text_of(
        browser,
        Locator::Css(".notice"),
        "notice after the rotation",
    )
    .await?;
    if !notice.starts_with("Rotated:") {
        return Err(format!("the keys page says: {notice}"));
    }
    screenshot(browser, "console-rotated.png").await;

    browser
        .goto(&app.url("/console/clients"))
        .await
        .map_err(fail)?;
    fill(browser, "client_id", "web").await?;
    fill(browser, "redirect_uris", "https://web.example/callback").await?;
    click(
        browser,
        Locator::Css("form[method=post][action='/console/clients'] button"),
    )
    .await?;
    let secret = text_of(browser, Locator::Id("client-secret"), "secret shown").await?;
    if secret.len() != 43 {
        return Err(format!("the shown secret: {secret:?}"));
    }
    screenshot(browser, "console-client-secret.png").await;

    browser
        .goto(&app.url("/console/audit"))
        .await
        .map_err(fail)?;
    let body = text_of(browser, Locator::Css("table"), "audit table").await?;
    for kind in ["key.rotated", "client.created", "sign_in"] {
        if !body.contains(kind) {
            return Err(format!("the audit log lacks {kind}: {body}"));
        }
    }
    if body.contains(&secret) {
        return Err("the client secret is in the audit log".into());
    }
    screenshot(browser, "console-audit.png").await;

    // The header's sign-out ends the session: the console asks for a sign-in again.
    click(browser, Locator::Css("form.sign-out button")).await?;
    // The message page's text (the audit page, left behind, has none).
    wait_for(browser, Locator::Css("p.lead"), "page after signing out").await?;
    let signed_out = text_of(browser, Locator::Css("h1"), "title").await?;
    if signed_out != "Signed out" {
        return Err(format!("after signing out: {signed_out}"));
    }
    browser
        .goto(&app.url("/console/keys"))
        .await
        .map_err(fail)?;
    wait_for(
        browser,
        Locator::Id("username"),
        "login form after signing out",
    )
    .await?;
    Ok(())
}
