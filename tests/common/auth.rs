//! Identity helpers for the access-control tests: tokens of every kind
//! (HS256 through `accord::auth::mint_hs256`, hand-built RS256/ES256, unsigned
//! `alg: none`), keys made with the `openssl` CLI, a JWKS document, an
//! independent HMAC-SHA256 (to check hash masks without trusting the
//! warehouse) and MD5 (what masks were before they were keyed), and
//! servers that live on their own runtime for the whole test binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use accord::server::ServeConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

pub const SECRET: &str = accord::auth::DEV_SECRET;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A development HS256 token (subject `tester`, valid ten minutes) with
/// these roles and extra claims, minted the way `accord token` does.
pub fn token(roles: &[&str], claims: &[(&str, Value)]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let claims: BTreeMap<String, Value> = claims
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    accord::auth::mint_hs256(SECRET, "tester", &roles, &claims, 600).expect("mint a token")
}

/// `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A claims body valid for ten minutes.
pub fn body(roles: &[&str]) -> Value {
    json!({"sub": "tester", "roles": roles, "iat": now(), "exp": now() + 600})
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, key).expect("sign a token")
}

/// HS256 over `claims` with an arbitrary HMAC key.
pub fn sign_hs256(key: &[u8], claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(key),
        claims,
        None,
    )
}

/// Any HMAC algorithm (for "algorithm not accepted" cases).
pub fn sign_hmac(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    sign(alg, &EncodingKey::from_secret(key), claims, None)
}

pub fn sign_rs256(private_pem: &[u8], claims: &Value, kid: Option<&str>) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem).expect("an RSA private key PEM");
    sign(Algorithm::RS256, &key, claims, kid)
}

pub fn sign_es256(private_pem: &[u8], claims: &Value, kid: Option<&str>) -> String {
    let key = EncodingKey::from_ec_pem(private_pem).expect("an EC (PKCS#8) private key PEM");
    sign(Algorithm::ES256, &key, claims, kid)
}

/// base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A token assembled by hand: `header.payload.signature` (signature as
/// given, e.g. empty for `alg: none`).
pub fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        signature
    )
}

/// Replaces the payload of a signed token, keeping its header and
/// signature (a forged privilege escalation).
pub fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact token");
    format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// HMAC-SHA256(key, value) as lower-case hex, by the `hmac` crate: what a
/// `hash` mask must show, computed without the warehouse or accord.
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `hash` mask of `value` under the tests' (development) mask key.
pub fn mask_hex(value: &str) -> String {
    hmac_hex(accord::masking::DEV_KEY.as_bytes(), value)
}

/// MD5 (RFC 1321) as lower-case hex, written out here so hash masks are
/// checked against an implementation that is not the warehouse's.
pub fn md5_hex(input: &str) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = input.as_bytes().to_vec();
    let bit_len = (msg.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) = (
        0x6745_2301u32,
        0xefcd_ab89u32,
        0x98ba_dcfeu32,
        0x1032_5476u32,
    );
    for block in msg.chunks(64) {
        let m: Vec<u32> = block
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    [a0, b0, c0, d0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Key material for the public-key cases, made with the `openssl` CLI.
pub struct Keys {
    pub rsa_private: Vec<u8>,
    pub rsa_public: PathBuf,
    pub ec_private: Vec<u8>,
    pub ec_public: PathBuf,
    /// A key published only through the JWKS file, under `JWKS_KID`.
    pub jwks_private: Vec<u8>,
    pub jwks: PathBuf,
    /// Keys the server has never seen.
    pub stranger_rsa_private: Vec<u8>,
    pub stranger_ec_private: Vec<u8>,
}

pub const JWKS_KID: &str = "accord-test-kid-1";

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the `openssl` command-line tool is needed to generate RS256/ES256 test keys \
                 and could not be run ({e}); install OpenSSL (e.g. `apt-get install openssl`)"
            )
        });
    assert!(
        out.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rsa_pair(dir: &Path, name: &str) -> (Vec<u8>, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let p = private.to_str().expect("utf-8 path");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        p,
    ]);
    openssl(&[
        "pkey",
        "-in",
        p,
        "-pubout",
        "-out",
        public.to_str().expect("utf-8 path"),
    ]);
    (std::fs::read(&private).expect("read key"), public)
}

fn ec_pair(dir: &Path, name: &str) -> (Vec<u8>, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let p = private.to_str().expect("utf-8 path");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        p,
    ]);
    openssl(&[
        "pkey",
        "-in",
        p,
        "-pubout",
        "-out",
        public.to_str().expect("utf-8 path"),
    ]);
    (std::fs::read(&private).expect("read key"), public)
}

/// Generates every key into `dir` and writes the JWKS document.
pub fn generate_keys(dir: &Path) -> Keys {
    let (rsa_private, rsa_public) = rsa_pair(dir, "rsa");
    let (ec_private, ec_public) = ec_pair(dir, "ec");
    let (jwks_private, _) = rsa_pair(dir, "jwks");
    let (stranger_rsa_private, _) = rsa_pair(dir, "stranger-rsa");
    let (stranger_ec_private, _) = ec_pair(dir, "stranger-ec");
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &EncodingKey::from_rsa_pem(&jwks_private).expect("jwks key"),
        Algorithm::RS256,
    )
    .expect("a JWK from the RSA key");
    jwk.common.key_id = Some(JWKS_KID.into());
    let set = jsonwebtoken::jwk::JwkSet { keys: vec![jwk] };
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, serde_json::to_vec_pretty(&set).expect("jwks json")).expect("write jwks");
    Keys {
        rsa_private,
        rsa_public,
        ec_private,
        ec_public,
        jwks_private,
        jwks,
        stranger_rsa_private,
        stranger_ec_private,
    }
}

/// Starts a server on a runtime of its own that lives as long as the test
/// binary, so every `#[tokio::test]` (each with its own runtime) can share
/// it. `make` builds the configuration and returns what must stay alive
/// (temporary directories). Returns the base URL.
pub fn background_server<K: Send + 'static>(
    make: impl FnOnce() -> (ServeConfig, K) + Send + 'static,
) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let (config, keep) = make();
            let running = accord::server::start(config)
                .await
                .unwrap_or_else(|e| panic!("server failed to start: {e}"));
            tx.send(format!("http://{}", running.addr))
                .expect("report the address");
            let _keep = (keep, running);
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the background server started")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex("message digest"),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
        assert_eq!(
            md5_hex(
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn b64url_has_no_padding() {
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }
}
