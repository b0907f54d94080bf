//! `auditrail token create|list|revoke`.

use anyhow::{Context, bail};
use auditrail_core::{OrgId, Scope, Timestamp};
use auditrail_store::{NewToken, TokenInfo};

use super::open_store;
use crate::cli::{OrgListArgs, TokenCommand};

pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { store, org, scopes, name, email, expires } => {
            let org = OrgId::parse(&org, "--org")?;
            let scopes = scopes
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<Scope>().map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let expires = expires.map(|e| parse_lifetime(&e)).transpose()?;
            let store = open_store(&store).await?;
            let (_, secret) = store
                .create_token(&org, NewToken { scopes, name, email, expires })
                .await
                .context("cannot create the token")?;
            println!("{}", secret.expose());
            Ok(())
        }
        TokenCommand::List(OrgListArgs { store, org, json }) => {
            let org = OrgId::parse(&org, "--org")?;
            let store = open_store(&store).await?;
            let now = Timestamp::now();
            for token in store.tokens(&org).await? {
                if json {
                    println!("{}", token_json(&token, now));
                } else {
                    let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
                    let state = token_state(&token, now);
                    println!(
                        "{}\t{}\t{}\t{}\tcreated {}\tlast used {}\texpires {}",
                        token.token_id,
                        state,
                        token.name.as_deref().unwrap_or("-"),
                        scopes.join(","),
                        token.created,
                        token.last_used.map_or("never".to_owned(), |t| t.to_string()),
                        token.expires.map_or("never".to_owned(), |t| t.to_string()),
                    );
                }
            }
            Ok(())
        }
        TokenCommand::Revoke { store, token_id } => {
            let store = open_store(&store).await?;
            let org = store.revoke_token(&token_id).await?;
            eprintln!("revoked {token_id} of organization {org}");
            Ok(())
        }
    }
}

/// What a token can do now: a revoked or expired token is refused by every server.
fn token_state(token: &TokenInfo, now: Timestamp) -> &'static str {
    if token.revoked {
        "revoked"
    } else if token.expires.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    }
}

fn token_json(token: &TokenInfo, now: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "state": token_state(token, now),
        "tokenId": token.token_id,
        "orgId": token.org.to_string(),
        "name": token.name,
        "email": token.email,
        "scopes": token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "created": token.created.to_string(),
        "lastUsed": token.last_used.map(|t| t.to_string()),
        "expires": token.expires.map(|t| t.to_string()),
        "revoked": token.revoked,
    })
}

/// `90d`, `12h`, `30m` or `45s` from now.
fn parse_lifetime(raw: &str) -> anyhow::Result<Timestamp> {
    let raw = raw.trim();
    let split = raw.len().saturating_sub(1);
    let (number, unit) = raw.split_at(split);
    let n: i64 = number.parse().with_context(|| format!("invalid --expires '{raw}': use e.g. 90d, 12h, 30m"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("invalid --expires '{raw}': the unit must be s, m, h or d"),
    };
    if n <= 0 {
        bail!("invalid --expires '{raw}': must be positive");
    }
    Ok(Timestamp::now().saturating_add_millis(n.saturating_mul(unit_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        let now = Timestamp::now().millis();
        let in_a_day = parse_lifetime("1d").unwrap().millis() - now;
        assert!((86_399_000..=86_401_000).contains(&in_a_day));
        for bad in ["", "d", "10", "10y", "-1h", "0m", "1.5h"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}
