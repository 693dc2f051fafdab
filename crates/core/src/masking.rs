//! The deployment's key for `hash` masks. A masked value is
//! HMAC-SHA256(key, value) as lower-case hex, computed by the warehouse in
//! SQL so equal values still group and join; without the key nobody can test
//! a guess (a plain hash of a known email could be recomputed by anyone).
//!
//! The key is server configuration (`masking:` in accord.yaml,
//! `ACCORD_MASK_KEY`, `--mask-key`), never part of the definitions. It is
//! held by the [`crate::warehouse::Warehouse`] handle, like its credentials,
//! and enters SQL only when a plan is rendered for execution: the planner,
//! plans, the plan cache and every SQL text shown to a person stay key-free.
//!
//! HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)), where K' is K padded to
//! SHA-256's 64-byte block (or hashed first when longer). The two padded
//! keys are computed here once and written into SQL as hex literals, so an
//! engine needs only SHA-256 over bytes.

use std::fmt;

use sha2::{Digest, Sha256};

/// Shortest key accepted, in bytes: HMAC-SHA256's security needs a key at
/// least as long as its output.
pub const MIN_KEY_BYTES: usize = 32;

/// SHA-256's block size; HMAC pads the key to it.
const BLOCK: usize = 64;

/// The documented DEVELOPMENT key of the demo `accord.yaml` and of tests.
/// Anyone who reads the repository knows it: replace it before real data.
pub const DEV_KEY: &str = "accord-demo-dev-mask-key-change-me-0123456789";

/// A validated mask key with its two padded forms. `Debug` shows only the
/// fingerprint, so the key never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct MaskKey {
    ipad: [u8; BLOCK],
    opad: [u8; BLOCK],
    /// The raw key, for engines with a native HMAC function (Trino).
    raw: Vec<u8>,
    fingerprint: String,
}

impl MaskKey {
    /// A key from its bytes; refused when shorter than [`MIN_KEY_BYTES`].
    pub fn new(key: &[u8]) -> Result<MaskKey, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the mask key has {} bytes; at least {MIN_KEY_BYTES} are required \
                 (e.g. `openssl rand -hex 32`)",
                key.len()
            ));
        }
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut k = MaskKey {
            ipad: block.map(|b| b ^ 0x36),
            opad: block.map(|b| b ^ 0x5c),
            raw: key.to_vec(),
            fingerprint: String::new(),
        };
        // A MAC of a fixed label: names the key without revealing anything
        // that helps to test guesses of masked values.
        k.fingerprint = hex::encode(&k.mac(b"accord mask key fingerprint")[..8]);
        Ok(k)
    }

    /// The documented DEVELOPMENT key ([`DEV_KEY`]): the demo and tests.
    pub fn dev() -> MaskKey {
        // A constant longer than the minimum, checked by a test below.
        MaskKey::new(DEV_KEY.as_bytes()).expect("DEV_KEY is long enough")
    }

    /// Reads a key file: its bytes, without one trailing line break.
    pub fn from_file(path: &std::path::Path) -> Result<MaskKey, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the mask key file {}: {e}", path.display()))?;
        let trimmed = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        MaskKey::new(trimmed).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Inner padded key (K' ⊕ 0x36…), lower-case hex.
    pub fn ipad_hex(&self) -> String {
        hex::encode(self.ipad)
    }

    /// Outer padded key (K' ⊕ 0x5c…), lower-case hex.
    pub fn opad_hex(&self) -> String {
        hex::encode(self.opad)
    }

    /// The key itself, lower-case hex.
    pub fn raw_hex(&self) -> String {
        hex::encode(&self.raw)
    }

    /// A short public name of the key (cache keys, logs): equal keys have
    /// equal fingerprints, and it reveals nothing usable about the key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `text` (a warehouse's error message, which may quote the SQL it
    /// ran) with the key's hex forms replaced by a placeholder.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in [self.ipad_hex(), self.opad_hex(), self.raw_hex()] {
            for form in [secret.clone(), secret.to_ascii_uppercase()] {
                out = out.replace(&form, "<mask key withheld>");
            }
        }
        out
    }

    /// HMAC-SHA256 of `message` under this key: what the SQL computes.
    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = Sha256::new()
            .chain_update(self.ipad)
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(self.opad)
            .chain_update(inner)
            .finalize()
            .into()
    }
}

impl fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskKey({})", self.fingerprint)
    }
}

/// The `masking:` section of accord.yaml.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMasking {
    /// The key as text (its UTF-8 bytes).
    pub hmac_key: Option<String>,
    /// A file holding the key (e.g. a mounted secret).
    pub hmac_key_file: Option<std::path::PathBuf>,
}

/// The key from a flag or environment value (`flag`, which wins) or the
/// configuration file; `None` when neither gives one.
pub fn resolve(flag: Option<&str>, file: Option<&FileMasking>) -> Result<Option<MaskKey>, String> {
    let context = |e: String| format!("masking: {e}");
    if let Some(text) = flag {
        return MaskKey::new(text.as_bytes()).map(Some).map_err(context);
    }
    let Some(file) = file else { return Ok(None) };
    match (&file.hmac_key, &file.hmac_key_file) {
        (Some(_), Some(_)) => Err(context(
            "set either hmac_key or hmac_key_file, not both".into(),
        )),
        (Some(text), None) => MaskKey::new(text.as_bytes()).map(Some).map_err(context),
        (None, Some(path)) => MaskKey::from_file(path).map(Some).map_err(context),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        let err = MaskKey::new(b"too short").unwrap_err();
        assert!(err.contains("at least 32"), "{err}");
        assert!(MaskKey::new(&[7u8; 32]).is_ok());
    }

    // RFC 4231 test case 2 has a 4-byte key, below our minimum; case 6
    // (131-byte key, hashed first) and case 7 exercise the long-key path.
    #[test]
    fn matches_rfc4231_long_key() {
        let k = MaskKey::new(&[0xaa; 131]).unwrap();
        let mac = k.mac(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn scrub_removes_every_form_of_the_key() {
        let k = MaskKey::new(DEV_KEY.as_bytes()).unwrap();
        let text = format!(
            "near '{}' and {}",
            k.ipad_hex(),
            k.opad_hex().to_uppercase()
        );
        let clean = k.scrub(&text);
        assert!(!clean.contains(&k.ipad_hex()) && !clean.contains(&k.opad_hex().to_uppercase()));
        assert!(clean.contains("<mask key withheld>"), "{clean}");
    }

    #[test]
    fn debug_hides_the_key() {
        let k = MaskKey::dev();
        let shown = format!("{k:?}");
        assert!(!shown.contains("accord-demo"), "{shown}");
        assert_eq!(shown, format!("MaskKey({})", k.fingerprint()));
    }

    #[test]
    fn flag_overrides_file_and_both_file_forms_conflict() {
        let file = FileMasking {
            hmac_key: Some(DEV_KEY.into()),
            hmac_key_file: None,
        };
        let other = "another-key-of-at-least-thirty-two-bytes!";
        let k = resolve(Some(other), Some(&file)).unwrap().unwrap();
        assert_eq!(k, MaskKey::new(other.as_bytes()).unwrap());
        let both = FileMasking {
            hmac_key_file: Some("x".into()),
            ..file
        };
        assert!(resolve(None, Some(&both)).unwrap_err().contains("not both"));
        assert_eq!(resolve(None, None).unwrap(), None);
    }
}
