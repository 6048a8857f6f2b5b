//! Reading a small file a user names (a goal book, a saved fit): only a regular file, and no more
//! than a stated size, so that `/dev/zero`, a FIFO or a folder gives an error at once instead of
//! reading until memory runs out or blocking forever.
use std::io::Read;
use std::path::Path;

/// The text of the regular file at `path`, at most `max_bytes` long. The error says what is wrong
/// in words (not a folder, a device or a FIFO; too large; not UTF-8; the OS's reason).
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    // `metadata` follows links, so a link to a regular file is read and one to a device is not.
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a folder" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(format!("it is {kind}"));
    }
    if meta.len() > max_bytes {
        return Err(format!("it holds {} bytes, more than the {max_bytes} bytes read at most", meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    // The size can change between the check and the read: read one byte past the cap at most.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("it holds more than the {max_bytes} bytes read at most"));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::read_text;

    #[test]
    fn regular_files_only_and_never_past_the_cap() {
        let dir = std::env::temp_dir().join(format!("tp-util-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.json");
        std::fs::write(&f, "{\"a\": 1}").unwrap();
        assert_eq!(read_text(&f, 100).unwrap(), "{\"a\": 1}");
        assert!(read_text(&f, 3).unwrap_err().contains("more than the 3 bytes"));
        assert!(read_text(&dir, 100).unwrap_err().contains("a folder"));
        if std::path::Path::new("/dev/zero").exists() {
            assert!(read_text(std::path::Path::new("/dev/zero"), 100)
                .unwrap_err()
                .contains("not a regular file"));
        }
        std::fs::write(&f, [0xffu8, 0xfe]).unwrap();
        assert!(read_text(&f, 100).unwrap_err().contains("not UTF-8"));
        assert!(read_text(&dir.join("missing"), 100).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
