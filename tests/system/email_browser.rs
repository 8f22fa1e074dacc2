//! Changing an address in headless Chromium, with a real SMTP server on loopback: the user
//! on the account page (new address and current password), the notice the old address gets
//! (its HTML rendered), the confirmation link followed, and the admin's Email page of the
//! console. Screenshots in target/screenshots/ (account-email-changed, mail-email-changed,
//! console-email). Over HTTP without a browser: tests/api/email_change.rs.

use fantoccini::Locator;

use crate::helpers::chromium::{self, screenshot, start_browser, start_driver, WAIT};
use crate::helpers::{spawn_app_with, Backend, TestApp, ADMIN_PASSWORD};
use crate::smtp::SmtpSink;
use gatehouse::accounts::email::Verified;

// In Chromium on SQLite; tests/api/email_change.rs covers both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_an_admin_change_an_address_in_chromium() {
    if !chromium::available() {
        return;
    }
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let url = sink.url();
    let Some(app) = spawn_app_with(Backend::Sqlite, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("Gatehouse <id@gatehouse.test>".into());
    })
    .await
    else {
        return;
    };
    let _ = app.admin_token().await;
    app.add_user("alice", PASSWORD, false).await;
    app.state
        .accounts
        .set_email("alice", Some("alice@example.org".into()), Verified::Vouched)
        .await
        .expect("email");
    let driver = start_driver(&app.storage.dir.path().join("chromedriver.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = in_chromium(&browser, &app, &sink).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
    let alice = app.state.accounts.find_user("alice").await.expect("alice");
    assert_eq!(alice.email.as_deref(), Some("alice@third.example"));
    assert!(alice.email_verified, "vouched for by the admin");
}

const PASSWORD: &str = "alice's long passphrase";

async fn sign_in(
    browser: &fantoccini::Client,
    app: &TestApp,
    to: &str,
    user: &str,
    password: &str,
) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    browser.goto(&app.url(to)).await.map_err(fail)?;
    let field = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(|e| format!("no login page: {e}"))?;
    field.send_keys(user).await.map_err(fail)?;
    browser
        .find(Locator::Id("password"))
        .await
        .map_err(fail)?
        .send_keys(password)
        .await
        .map_err(fail)?;
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)
}

/// Types `text` into the field `id` and submits its form.
async fn fill(browser: &fantoccini::Client, fields: &[(&str, &str)]) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    let mut last = None;
    for (id, text) in fields {
        let field = browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id(id))
            .await
            .map_err(|e| format!("no field {id}: {e}"))?;
        field.send_keys(text).await.map_err(fail)?;
        last = Some(field);
    }
    let form = last
        .ok_or("no field")?
        .find(Locator::XPath("./ancestor::form"))
        .await
        .map_err(fail)?;
    form.find(Locator::Css("button[type=submit]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)
}

async fn in_chromium(
    browser: &fantoccini::Client,
    app: &TestApp,
    sink: &SmtpSink,
) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    // The user changes the address on the account page.
    sign_in(browser, app, "/account", "alice", PASSWORD).await?;
    fill(
        browser,
        &[
            ("new-email", "alice@new.example"),
            ("email-current", PASSWORD),
        ],
    )
    .await?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//p[contains(text(), 'Your address is changed')]",
        ))
        .await
        .map_err(|e| format!("no confirmation of the change: {e}"))?;
    let section = browser
        .find(Locator::Id("email"))
        .await
        .map_err(fail)?
        .text()
        .await
        .map_err(fail)?;
    if !(section.contains("alice@new.example") && section.contains("not confirmed")) {
        return Err(format!("the section shows: {section}"));
    }
    // The section in view, the notice above scrolled away.
    browser
        .execute("document.getElementById('email').scrollIntoView()", vec![])
        .await
        .map_err(fail)?;
    screenshot(browser, "account-email-changed.png").await;

    // The old address's notice, rendered; the new address's link followed.
    let mails = sink.wait_for(2, 60).await;
    let notice = mails
        .iter()
        .find(|m| m.rcpt_tos == ["alice@example.org"])
        .ok_or("no notice to the old address")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("notice.html");
    std::fs::write(&file, notice.html.clone().unwrap_or_default()).map_err(|e| e.to_string())?;
    browser
        .goto(&format!("file://{}", file.display()))
        .await
        .map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText("Open your account"))
        .await
        .map_err(|e| format!("no button in the rendered notice: {e}"))?;
    screenshot(browser, "mail-email-changed.png").await;
    let link = mails
        .iter()
        .find(|m| m.rcpt_tos == ["alice@new.example"])
        .and_then(|m| m.link("/verify-email"))
        .ok_or("no verification link to the new address")?;
    browser.goto(&link).await.map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("button[type=submit]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//h1[text()='Your address is confirmed']"))
        .await
        .map_err(|e| format!("not confirmed: {e}"))?;

    // The admin sets another address on the console's Email page, vouching for it.
    browser.delete_all_cookies().await.map_err(fail)?;
    sign_in(browser, app, "/console/users", "root", ADMIN_PASSWORD).await?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a[href='/console/users/alice/email']"))
        .await
        .map_err(|e| format!("no Email link for alice: {e}"))?
        .click()
        .await
        .map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("input[name=verified]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)?;
    fill(browser, &[("email", "alice@third.example")]).await?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//p[contains(text(), 'confirmed by you')]"))
        .await
        .map_err(|e| format!("no confirmation on the console: {e}"))?;
    screenshot(browser, "console-email.png").await;
    Ok(())
}
