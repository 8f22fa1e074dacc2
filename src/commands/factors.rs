//! `gatehouse user factors NAME` and `gatehouse user remove-factors NAME`: what second
//! factors a user has, and their removal when the phone and the recovery codes are lost.

use crate::accounts::Accounts;
use crate::domain::utc_datetime;

pub async fn show(accounts: &Accounts, name: &str) -> anyhow::Result<()> {
    let f = accounts.user_factors(name).await?;
    match (f.totp_since, f.totp_pending) {
        (Some(since), _) => println!(
            "totp\tset up {}\trecovery codes left: {}",
            utc_datetime(since),
            f.recovery_codes_left
        ),
        (None, true) => println!("totp\tenrolment started, not confirmed"),
        (None, false) => println!("no second factor"),
    }
    Ok(())
}

pub async fn remove(accounts: &Accounts, name: &str) -> anyhow::Result<()> {
    if accounts.remove_user_factors(name).await? {
        println!("removed the second factors of {name}; their password alone signs them in until they set up an app again");
    } else {
        println!("{name} has no second factor");
    }
    Ok(())
}
