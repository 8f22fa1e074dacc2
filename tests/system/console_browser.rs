//! The admin console in a real headless Chromium: sign in, rotate behind the confirmation,
//! register a client and see its secret once, read the audit log. Over HTTP without a
//! browser: tests/api/console.rs.

use crate::helpers::{chromium, spawn_app, Backend, TestApp, ADMIN_PASSWORD};

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
    use crate::browser::{screenshot, WAIT};
    use fantoccini::Locator;
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    browser.goto(&app.url("/console")).await.map_err(fail)?;
    let username = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(|e| format!("no login form: {e}"))?;
    username.send_keys("root").await.map_err(fail)?;
    let password = browser.find(Locator::Id("password")).await.map_err(fail)?;
    password.send_keys(ADMIN_PASSWORD).await.map_err(fail)?;
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText("Rotate…"))
        .await
        .map_err(|e| format!("no keys page after sign-in: {e}"))?;
    screenshot(browser, "console-keys.png").await;

    browser
        .find(Locator::LinkText("Rotate…"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    // The confirmation's own form: the header holds a sign-out form too.
    let confirm = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("form[action='/console/keys/rotate'] button"))
        .await
        .map_err(|e| format!("no confirmation: {e}"))?;
    screenshot(browser, "console-rotate-confirm.png").await;
    confirm.click().await.map_err(fail)?;
    let notice = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(".notice"))
        .await
        .map_err(|e| format!("no notice after the rotation: {e}"))?
        .text()
        .await
        .map_err(fail)?;
    if !notice.starts_with("Rotated:") {
        return Err(format!("the keys page says: {notice}"));
    }
    screenshot(browser, "console-rotated.png").await;

    browser
        .goto(&app.url("/console/clients"))
        .await
        .map_err(fail)?;
    let id = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("client_id"))
        .await
        .map_err(|e| format!("no client form: {e}"))?;
    id.send_keys("web").await.map_err(fail)?;
    browser
        .find(Locator::Id("redirect_uris"))
        .await
        .map_err(fail)?
        .send_keys("https://web.example/callback")
        .await
        .map_err(fail)?;
    browser
        .find(Locator::Css(
            "form[method=post][action='/console/clients'] button",
        ))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    let secret = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("client-secret"))
        .await
        .map_err(|e| format!("no secret shown: {e}"))?
        .text()
        .await
        .map_err(fail)?;
    if secret.len() != 43 {
        return Err(format!("the shown secret: {secret:?}"));
    }
    screenshot(browser, "console-client-secret.png").await;

    browser
        .goto(&app.url("/console/audit"))
        .await
        .map_err(fail)?;
    let body = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table"))
        .await
        .map_err(|e| format!("no audit table: {e}"))?
        .text()
        .await
        .map_err(fail)?;
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
    browser
        .find(Locator::Css("form.sign-out button"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    // The message page's text (the audit page, left behind, has none).
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("p.lead"))
        .await
        .map_err(|e| format!("no page after signing out: {e}"))?;
    let signed_out = browser
        .find(Locator::Css("h1"))
        .await
        .map_err(fail)?
        .text()
        .await
        .map_err(fail)?;
    if signed_out != "Signed out" {
        return Err(format!("after signing out: {signed_out}"));
    }
    browser
        .goto(&app.url("/console/keys"))
        .await
        .map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(|e| format!("still signed in after signing out: {e}"))?;
    Ok(())
}
