//! File names from the network: only plain relative names that stay inside the folder they are
//! joined to.

use std::path::{Component, Path, PathBuf};

/// The longest name accepted, in bytes (a file name's limit on Linux).
const MAX_NAME_BYTES: usize = 255;

/// Checks that `name` is a relative path that stays inside the folder it will be joined to, and
/// returns it as a path: not empty, at most 255 bytes, no NUL or control character, no
/// backslash, not absolute, no `..` component, naming a file (not `.` nor ending with `/`).
/// `./` components are dropped.
///
/// Symbolic links are not resolved: a folder that may hold links must also be checked after
/// joining (canonicalize and compare prefixes).
pub fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("is empty: give a file name".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if name.contains('\0') {
        return Err("contains a NUL character".to_string());
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character".to_string());
    }
    if name.contains('\\') {
        return Err("contains '\\': separate folders with '/'".to_string());
    }
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with('/') {
        return Err(format!(
            "\"{name}\" is an absolute path: give a name inside the folder, e.g. \"line1.txt\""
        ));
    }
    if name.ends_with('/') {
        return Err(format!("\"{name}\" names a folder, not a file"));
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "\"{name}\" contains '..': only names inside the folder are allowed"
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "\"{name}\" is an absolute path: give a name inside the folder"
                ))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("\"{name}\" names the folder itself, not a file"));
    }
    Ok(out)
}

/// Checks that `name` is a single file name (no folder part), with the rules of
/// [`safe_relative_path`]; returns it unchanged.
pub fn safe_file_name(name: &str) -> Result<String, String> {
    let path = safe_relative_path(name)?;
    if path.components().count() != 1 || name.contains('/') {
        return Err(format!(
            "\"{name}\" has a folder part: give the name alone, e.g. \"measurements_20261122T211300\""
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_inside_the_folder() {
        assert_eq!(
            safe_relative_path("line1.txt"),
            Ok(PathBuf::from("line1.txt"))
        );
        assert_eq!(
            safe_relative_path("./field/line1.txt"),
            Ok(PathBuf::from("field/line1.txt"))
        );
        assert_eq!(safe_relative_path("a//b"), Ok(PathBuf::from("a/b")));
        assert_eq!(safe_relative_path("..a"), Ok(PathBuf::from("..a")));
        for bad in [
            "",
            "/etc/passwd",
            "../etc/passwd",
            "a/../../b",
            "a/..",
            "..",
            ".",
            "./",
            "folder/",
            "a\0b",
            "a\nb",
            "..\\x",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(safe_relative_path(&"a".repeat(255)).is_ok());
        assert_eq!(
            safe_relative_path(&"a".repeat(256)).unwrap_err(),
            "is 256 bytes long; at most 255"
        );
        assert!(safe_relative_path("/etc/passwd")
            .unwrap_err()
            .contains("absolute"));
        assert!(safe_relative_path("a/../../b")
            .unwrap_err()
            .contains("'..'"));
    }

    #[test]
    fn file_names_have_no_folder() {
        assert_eq!(safe_file_name("s1"), Ok("s1".to_string()));
        assert!(safe_file_name("a/b").is_err());
        assert!(safe_file_name("./b").is_err());
        assert!(safe_file_name("../b").is_err());
    }
}
