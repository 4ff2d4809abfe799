//! API keys: `--dev`'s well-known pair, configured pairs, or a pair generated on first start and
//! kept in the data directory.

use std::path::Path;

use anyhow::Context;

const KEY_FILE: &str = "api-keys.toml";

/// The keys to accept, generating and persisting one pair when none is configured.
pub fn resolve(
    dev: bool,
    configured: &[(String, String)],
    data_dir: &Path,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut keys = configured.to_vec();
    if dev {
        keys.push(("devkey".into(), "secret".into()));
    }
    if !keys.is_empty() {
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
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = format!("API{}", xcord_sfu::ids::random_token(12));
    let secret = xcord_sfu::ids::random_token(43);
    let mut table = toml::Table::new();
    table.insert(key.clone(), toml::Value::String(secret.clone()));
    write_private(&path, &toml::to_string(&table)?)?;
    println!(
        "generated API key {key} with secret {secret} (kept in {})",
        path.display()
    );
    Ok(vec![(key, secret)])
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

    #[test]
    fn generates_once_and_reuses() {
        let dir = std::env::temp_dir().join(format!("xcord-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = resolve(false, &[], &dir).map_err(|e| e.to_string());
        let second = resolve(false, &[], &dir).map_err(|e| e.to_string());
        assert!(
            first
                .as_ref()
                .is_ok_and(|k| k.len() == 1 && k[0].1.len() == 43)
        );
        assert_eq!(first, second);
        let dev = resolve(true, &[], &dir).map_err(|e| e.to_string());
        assert_eq!(dev, Ok(vec![("devkey".into(), "secret".into())]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
