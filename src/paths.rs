//! Where btvep keeps its state: the config file and the data directory.
//!
//! Precedence (lowest first): the platform directories (`directories`), the environment
//! (`BTVEP_CONFIG`, `BTVEP_DATA_DIR`), then the global flags `--config FILE` / `--data-dir DIR`.

use std::path::PathBuf;

/// The resolved locations of btvep's state.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The `config.json` file.
    pub config_file: PathBuf,
    /// The directory holding the sled database and the admin socket.
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves both locations from flags, then `env`, then the platform defaults.
    ///
    /// # Errors
    /// When no home directory can be found and nothing overrides the defaults.
    pub fn resolve(
        config_flag: Option<PathBuf>,
        data_dir_flag: Option<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let dirs = || {
            directories::ProjectDirs::from("", "", "btvep").ok_or_else(|| {
                anyhow::anyhow!(
                    "cannot find a home directory; set BTVEP_CONFIG and BTVEP_DATA_DIR or pass --config and --data-dir"
                )
            })
        };
        let config_file = match config_flag.or_else(|| env("BTVEP_CONFIG").map(PathBuf::from)) {
            Some(p) => p,
            None => dirs()?.config_dir().join("config.json"),
        };
        let data_dir = match data_dir_flag.or_else(|| env("BTVEP_DATA_DIR").map(PathBuf::from)) {
            Some(p) => p,
            None => dirs()?.data_dir().to_path_buf(),
        };
        Ok(Paths {
            config_file,
            data_dir,
        })
    }

    /// The local admin socket of a running server using this data directory.
    pub fn admin_socket(&self) -> PathBuf {
        self.data_dir.join("admin.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_env() {
        let env = |k: &str| match k {
            "BTVEP_CONFIG" => Some("/env/config.json".to_string()),
            "BTVEP_DATA_DIR" => Some("/env/data".to_string()),
            _ => None,
        };
        let p = Paths::resolve(None, Some("/flag/data".into()), env).unwrap();
        assert_eq!(p.config_file, PathBuf::from("/env/config.json"));
        assert_eq!(p.data_dir, PathBuf::from("/flag/data"));
    }
}
