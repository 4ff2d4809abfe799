//! API keys: `--dev`'s well-known pair, configured pairs, or a pair generated on first start and
//! kept in the data directory.

use std::path::Path;

use anyhow::Context;

use crate::secret::Secret;

const KEY_FILE: &str = "api-keys.toml";

/// The keys the embedded SFU accepts, as the plain pairs its key store and webhook signer take.
///
/// When none is configured (and not `dev`), the pair kept in the data directory is used, and one is
/// generated and kept there on first start; but only when `embedded_sfu` is set: a remote media
/// plane (`serve --livekit-url`) brings its own credentials, so nothing is read or generated.
pub fn resolve(
    dev: bool,
    configured: &[(String, Secret)],
    data_dir: &Path,
    embedded_sfu: bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut keys: Vec<(String, String)> = configured
        .iter()
        .map(|(k, s)| (k.clone(), s.expose().to_owned()))
        .collect();
    if dev {
        keys.push(("devkey".into(), "secret".into()));
    }
    if !keys.is_empty() || !embedded_sfu {
        return Ok(keys);
    }
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        let pairs: Vec<(String, String)> = table
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect();
        if !pairs.is_empty() {
            return Ok(pairs);
        }
    }
    create_private_dir(data_dir)?;
    let key = format!("API{}", xcord_sfu::ids::random_token(12));
    let secret = xcord_sfu::ids::random_token(43);
    let mut table = toml::Table::new();
    table.insert(key.clone(), toml::Value::String(secret.clone()));
    write_private(&path, &toml::to_string(&table)?)?;
    println!(
        "generated API key {key}; its secret is in {}",
        path.display()
    );
    Ok(vec![(key, secret)])
}

/// Creates `dir` (and missing parents) readable by the owner only (mode 0700). An existing
/// directory is left as it is.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xcord-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> Option<u32> {
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn generates_once_and_reuses() {
        let dir = temp_dir("gen").join("nested");
        let first = resolve(false, &[], &dir, true).map_err(|e| e.to_string());
        let second = resolve(false, &[], &dir, true).map_err(|e| e.to_string());
        assert!(
            first
                .as_ref()
                .is_ok_and(|k| k.len() == 1 && k[0].1.len() == 43)
        );
        assert_eq!(first, second);
        assert_eq!(mode(&dir), Some(0o700));
        assert_eq!(mode(&dir.join(KEY_FILE)), Some(0o600));
        let dev = resolve(true, &[], &dir, true).map_err(|e| e.to_string());
        assert_eq!(dev, Ok(vec![("devkey".into(), "secret".into())]));
        let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(&dir));
    }

    #[test]
    fn remote_media_plane_generates_nothing() {
        let dir = temp_dir("remote");
        let keys = resolve(false, &[], &dir, false).map_err(|e| e.to_string());
        assert_eq!(keys, Ok(vec![]));
        assert!(!dir.exists(), "no data directory or key file is created");
        let configured = [("k".to_owned(), Secret::new("s"))];
        let keys = resolve(false, &configured, &dir, false).map_err(|e| e.to_string());
        assert_eq!(keys, Ok(vec![("k".into(), "s".into())]));
    }

    #[test]
    fn key_store_debug_lists_key_ids_only() {
        let store = xcord_sfu::auth::KeyStore::new([
            ("APIkey1".to_owned(), "very-secret-1".to_owned()),
            ("APIkey2".to_owned(), "very-secret-2".to_owned()),
        ]);
        let shown = format!("{store:?}");
        assert!(
            shown.contains("APIkey1") && shown.contains("APIkey2"),
            "{shown}"
        );
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
