//! "Forgot password?" end to end in headless Chromium with a real SMTP server on loopback
//! (aiosmtpd): the login page's link, the form, the mail the server received (its HTML
//! rendered in the browser), the link followed, a new password set, and a sign-in with it.
//! Screenshots in target/screenshots/ (forgot.png, forgot-sent.png, mail.png,
//! mail-new-password.png, mail-signed-in.png). Over HTTP without a browser: tests/api/mail.rs.

use std::path::Path;

use fantoccini::Locator;

use crate::both_backends;
use crate::browser::{screenshot, start_browser, start_driver, CHROMEDRIVER, CHROMIUM, WAIT};
use crate::helpers::{spawn_app_with, Backend};
use crate::smtp::SmtpSink;
use gatehouse::accounts::email::Verified;

both_backends!(a_user_resets_a_forgotten_password_by_mail_in_chromium);

const OLD: &str = "alice's forgotten passphrase";
const NEW: &str = "a passphrase chosen from the mail";

async fn a_user_resets_a_forgotten_password_by_mail_in_chromium(backend: Backend) {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        crate::helpers::skip("Chromium and chromedriver");
        return;
    }
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, move |a| {
        a.smtp_url = Some(url);
        a.smtp_from = Some("Gatehouse <id@gatehouse.test>".into());
    })
    .await
    else {
        return;
    };
    app.add_user("alice", OLD, false).await;
    app.state
        .accounts
        .set_email("alice", Some("alice@example.org".into()), Verified::Vouched)
        .await
        .expect("email");
    let driver = start_driver(&app.storage.dir.path().join("chromedriver.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = forgot_in_chromium(&browser, &app.url("/login"), &sink, backend).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.simplejwt_login("alice", NEW).await.status(), 200);
    assert_eq!(app.simplejwt_login("alice", OLD).await.status(), 401);
}

async fn forgot_in_chromium(
    browser: &fantoccini::Client,
    login: &str,
    sink: &SmtpSink,
    backend: Backend,
) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    let shot = |name: &str| format!("{name}-{backend:?}.png").to_lowercase();
    browser.goto(login).await.map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText("Forgot password?"))
        .await
        .map_err(|e| format!("no forgot-password link on the login page: {e}"))?
        .click()
        .await
        .map_err(fail)?;
    let field = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("identifier"))
        .await
        .map_err(|e| format!("no forgot-password form: {e}"))?;
    screenshot(browser, &shot("forgot")).await;
    field.send_keys("alice@example.org").await.map_err(fail)?;
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
        .for_element(Locator::XPath("//h1[text()='Check your email']"))
        .await
        .map_err(|e| format!("no confirmation page: {e}"))?;
    screenshot(browser, &shot("forgot-sent")).await;

    let mail = sink.wait_for(1, 60).await.remove(0);
    let link = mail.link("/reset").ok_or("no link in the mail")?;
    // The mail's HTML, rendered as a mail client would (written to a file and opened).
    let html = mail.html.clone().ok_or("no HTML part")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("mail.html");
    std::fs::write(&file, html).map_err(|e| e.to_string())?;
    browser
        .goto(&format!("file://{}", file.display()))
        .await
        .map_err(fail)?;
    let button = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::LinkText("Choose a new password"))
        .await
        .map_err(|e| format!("no button in the rendered mail: {e}"))?;
    screenshot(browser, &shot("mail")).await;
    let href = button.attr("href").await.map_err(fail)?.unwrap_or_default();
    if href != link {
        return Err(format!(
            "the HTML button goes to {href}, the text to {link}"
        ));
    }
    button.click().await.map_err(fail)?;

    for field in ["password", "confirm"] {
        browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id(field))
            .await
            .map_err(|e| format!("no {field} field: {e}"))?
            .send_keys(NEW)
            .await
            .map_err(fail)?;
    }
    screenshot(browser, &shot("mail-new-password")).await;
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
        .for_element(Locator::XPath("//h1[text()='Your password is set']"))
        .await
        .map_err(|e| format!("no confirmation of the reset: {e}"))?;

    // Sign in with it on the login page.
    browser.goto(login).await.map_err(fail)?;
    let username = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .map_err(fail)?;
    username.send_keys("alice").await.map_err(fail)?;
    browser
        .find(Locator::Id("password"))
        .await
        .map_err(fail)?
        .send_keys(NEW)
        .await
        .map_err(fail)?;
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
        .for_element(Locator::XPath("//h1[text()='Signed in']"))
        .await
        .map_err(|e| format!("signing in with the new password failed: {e}"))?;
    screenshot(browser, &shot("mail-signed-in")).await;
    Ok(())
}
