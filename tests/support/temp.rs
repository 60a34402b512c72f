//! Temporary directories that go away with the test that made them.

use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir, deleted when dropped. With
/// `KEEP_TEST_DIRS=1` a test that fails keeps it (its path is printed) so
/// the data can be looked at.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("notify-{name}-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() && std::env::var_os("KEEP_TEST_DIRS").is_some_and(|v| v == "1")
        {
            eprintln!("KEEP_TEST_DIRS=1: kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
