//! The server's checkpoint signing key: given with `--signing-key FILE`, or kept in the data
//! directory as `signing.key` (created on first start with mode 0600). Replicas on one PostgreSQL
//! must share one key, so there `--signing-key` names the shared secret file.
//! The file holds the signed-note private key text (`PRIVATE+KEY+name+id+key`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use auditrail_core::checkpoint::{SigningKey, valid_key_name};
use rand::RngCore;

pub const KEY_FILE: &str = "signing.key";

/// Loads the key from `explicit`, else from `data/signing.key`, creating that with `name`.
pub fn load_or_create(explicit: Option<&Path>, data: &Path, name: &str) -> anyhow::Result<(SigningKey, PathBuf)> {
    if let Some(path) = explicit {
        return Ok((read(path)?, path.to_owned()));
    }
    let path = data.join(KEY_FILE);
    if path.exists() {
        return Ok((read(&path)?, path));
    }
    if !valid_key_name(name) {
        bail!("'{name}' cannot name a signing key (no spaces or '+'); choose one with --log-name");
    }
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let key =
        SigningKey::generate_from(name, random).map_err(|e| anyhow::anyhow!("cannot create a signing key: {e}"))?;
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data).with_context(|| format!("cannot create {}", data.display()))?;
    match write_private(&path, &key) {
        Ok(()) => {}
        // Another process (a replica starting at the same moment) created it first: use theirs.
        Err(e) if path.exists() => {
            tracing::debug!(error = %e, "the signing key was created concurrently; reading it");
            return Ok((read(&path)?, path));
        }
        Err(e) => return Err(e),
    }
    tracing::info!(path = %path.display(), key = %key.verifier_key(), "created the checkpoint signing key");
    Ok((key, path))
}

fn read(path: &Path) -> anyhow::Result<SigningKey> {
    warn_if_shared(path);
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the signing key {}", path.display()))?;
    SigningKey::parse_private(text.trim())
        .map_err(|e| anyhow::anyhow!("{} is not a signing key ({e}); expected PRIVATE+KEY+name+id+key", path.display()))
}

/// Anyone who can read the key can sign checkpoints in this server's name: say so loudly when the
/// file is readable by its group or by everyone.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the signing key is readable by other users: anyone who can read it can sign checkpoints; chmod 600 it"
            );
        }
    }
}

fn write_private(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", key.to_private_text()).with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}

/// The default log name: the host of the public URL, else "auditrail".
pub fn default_name(public_url: Option<&str>) -> String {
    public_url
        .and_then(|u| u.split_once("://").map(|(_, rest)| rest.split('/').next().unwrap_or("").to_owned()))
        .filter(|h| valid_key_name(h))
        .unwrap_or_else(|| "auditrail".to_owned())
}
