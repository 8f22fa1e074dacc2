//! `gatehouse user factors NAME` and `gatehouse user remove-factors NAME`: what second
//! factors a user has, and their removal when the phone and the recovery codes are lost;
//! `user require-mfa NAME [--off]` and `client require-mfa ID [--off]`: the policy.

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

pub async fn require_of_user(
    accounts: &Accounts,
    name: &str,
    required: bool,
) -> anyhow::Result<()> {
    accounts.set_user_require_mfa(name, required).await?;
    if required {
        println!("{name} must sign in with a second factor; without one, the next browser sign-in sets one up");
    } else {
        println!("{name} is no longer required to have a second factor");
    }
    Ok(())
}

pub async fn require_of_client(
    accounts: &Accounts,
    id: &str,
    required: bool,
) -> anyhow::Result<()> {
    accounts.set_client_require_mfa(id, required).await?;
    if required {
        println!("everyone signing in to client {id} needs a second factor");
    } else {
        println!("client {id} no longer requires a second factor");
    }
    Ok(())
}
