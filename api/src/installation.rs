//! This installation's identity: a UUID kept in the data folder, written into every domain
//! Distribox defines. Another Distribox on the same libvirt (another data folder) has its own,
//! so each leaves the other's domains alone; a database restored beside the same data folder
//! keeps it, so its VMs stay its own.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use uuid::Uuid;

const FILE: &str = "installation-id";

/// The id in `data_dir`, created on first start.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Uuid> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} does not hold a UUID", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            // Written aside and renamed, so a crash never leaves a half-written id.
            let partial = data_dir.join(format!(".{FILE}.partial"));
            let mut file = std::fs::File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            writeln!(file, "{id}")?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(id)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("distribox-installation-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = load_or_create(&dir).unwrap();
        assert_eq!(load_or_create(&dir).unwrap(), first);
        std::fs::write(dir.join(FILE), "garbage").unwrap();
        assert!(load_or_create(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
