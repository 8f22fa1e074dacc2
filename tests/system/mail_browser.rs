//! "Forgot password?" end to end in headless Chromium with a real SMTP server on loopback
//! (aiosmtpd): the login page's link, the form, the mail the server received (its HTML
//! rendered in the browser), the link followed, a new password set, and a sign-in with it.
//! Screenshots in target/screenshots/ (forgot.png, forgot-sent.png, mail.png,
//! mail-new-password.png, mail-signed-in.png). Over HTTP without a browser: tests/api/mail/.

use fantoccini::Locator;

use crate::both_backends;
use crate::helpers::chromium::{self, click, fill, screenshot, sign_in_at, wait_for};
use crate::helpers::{spawn_app_with, Backend};
use crate::smtp::SmtpSink;
use gatehouse::accounts::email::Verified;

both_backends!(a_user_resets_a_forgotten_password_by_mail_in_chromium);

const OLD: &str = "alice's forgotten passphrase";
const NEW: &str = "a passphrase chosen from the mail";

async fn a_user_resets_a_forgotten_password_by_mail_in_chromium(backend: Backend) {
    if !chromium::available() {
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
    let (log, login) = (
        app.storage.dir.path().join("chromedriver.log"),
        app.url("/login"),
    );
    chromium::in_chromium(&log, async |browser| {
        forgot_in_chromium(browser, &login, &sink, backend).await
    })
    .await;
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
    let submit = Locator::Css("button[type=submit]");
    browser.goto(login).await.map_err(fail)?;
    let forgot = Locator::LinkText("Forgot password?");
    wait_for(browser, forgot, "forgot-password link on the login page")
        .await?
        .click()
        .await
        .map_err(fail)?;
    wait_for(browser, Locator::Id("identifier"), "forgot-password form").await?;
    screenshot(browser, &shot("forgot")).await;
    fill(browser, "identifier", "alice@example.org").await?;
    click(browser, submit).await?;
    let sent = Locator::XPath("//h1[text()='Check your email']");
    wait_for(browser, sent, "confirmation page").await?;
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
    let choose = Locator::LinkText("Choose a new password");
    let button = wait_for(browser, choose, "button in the rendered mail").await?;
    screenshot(browser, &shot("mail")).await;
    let href = button.attr("href").await.map_err(fail)?.unwrap_or_default();
    if href != link {
        return Err(format!(
            "the HTML button goes to {href}, the text to {link}"
        ));
    }
    button.click().await.map_err(fail)?;

    for field in ["password", "confirm"] {
        fill(browser, field, NEW).await?;
    }
    screenshot(browser, &shot("mail-new-password")).await;
    click(browser, submit).await?;
    let done = Locator::XPath("//h1[text()='Your password is set']");
    wait_for(browser, done, "confirmation of the reset").await?;

    // Sign in with it on the login page.
    sign_in_at(browser, login, "alice", NEW).await?;
    let signed_in = Locator::XPath("//h1[text()='Signed in']");
    wait_for(
        browser,
        signed_in,
        "page saying signed in with the new password",
    )
    .await?;
    screenshot(browser, &shot("mail-signed-in")).await;
    Ok(())
}
