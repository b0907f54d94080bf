//! Signed checkpoints: the C2SP `tlog-checkpoint` body inside a C2SP `signed-note`, with Ed25519
//! keys in the text formats of Go's `golang.org/x/mod/sumdb/note` (which the specs codify), so a
//! checkpoint signed here verifies with that package, and the reverse.
//!
//! # Checkpoint body (c2sp.org/tlog-checkpoint)
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64(RFC 6962 root hash)>\n
//! [<extension line>\n]*
//! ```
//!
//! # Signed note (c2sp.org/signed-note)
//!
//! The text (ending in a newline), one blank line, then one or more signature lines
//! `— <key name> <base64(key ID ‖ signature)>\n`, the dash being U+2014 EM DASH followed by a
//! space. The signature covers the text including its final newline, not the blank line. A note
//! is valid UTF-8 with no control characters but newline; the text is separated from the
//! signatures by the *last* blank line. Verifiers ignore signatures by unknown keys (name and ID
//! not both matching), reject the note if a known key's signature fails, and require at least
//! one good signature by a known key.
//!
//! # Keys
//!
//! - key name: non-empty, no Unicode spaces, no `+` (a schema-less URL such as
//!   `auditrail.example.com`);
//! - key ID: the first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)`, written as
//!   8 lowercase hex digits (0x01 = the Ed25519 signature type);
//! - verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`;
//! - private key: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>`.
//!
//! Nothing here generates randomness: a new key is made from 32 bytes the caller provides.

use crate::merkle::Hash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The signature type byte of Ed25519 note keys.
pub const ALG_ED25519: u8 = 0x01;

/// At most this many signature lines are read from a note (Go's limit; the spec asks for ≥ 16).
pub const MAX_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// A tree head: the body of a checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (for auditrail: the server name and the org).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
    /// Opaque extension lines (without their newlines); usually none.
    pub extensions: Vec<String>,
}

/// A checkpoint body that does not follow c2sp.org/tlog-checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed checkpoint: {0}")]
pub struct CheckpointError(pub &'static str);

impl Checkpoint {
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint { origin: origin.into(), size, root, extensions: Vec::new() }
    }

    /// The note text: origin, size, base64 root and extension lines, each ending in `\n`.
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for ext in &self.extensions {
            s.push_str(ext);
            s.push('\n');
        }
        s
    }

    /// Parses a note text as a checkpoint body.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(CheckpointError("control character"));
        }
        let Some(text) = text.strip_suffix('\n') else {
            return Err(CheckpointError("does not end in a newline"));
        };
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(CheckpointError("fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(CheckpointError("empty origin"));
        }
        let size_ok =
            !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        let size = match size.parse::<u64>() {
            Ok(n) if size_ok => n,
            _ => return Err(CheckpointError("tree size is not a canonical decimal u64")),
        };
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(CheckpointError("root is not the base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions })
    }
}

/// A key text or key name that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    #[error("invalid key name (empty, or contains a space, `+` or a control character)")]
    InvalidName,
    #[error("unsupported key algorithm {0:#04x} (only Ed25519, 0x01)")]
    UnknownAlgorithm(u8),
    #[error("key ID does not match the key")]
    KeyIdMismatch,
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}

/// A note that is malformed or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// The note parsed but carries no signature by the verifier's key.
    #[error("note has no signature by key {0}")]
    NotSigned(String),
    /// A signature line names the verifier's key but does not verify.
    #[error("invalid signature by key {0}")]
    InvalidSignature(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Whether `name` may be a note key name: non-empty, no Unicode spaces, no `+`, no control
/// characters.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The note key ID of an Ed25519 key: `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public_key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn hex4(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex4(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok().map(u32::to_be_bytes)
}

/// `<name>+<hex id>+<base64 key>` → (name, id, 0x01-prefixed 32-byte key).
fn parse_key_parts(s: &str) -> Result<(&str, [u8; 4], [u8; 32]), KeyError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("expected name+id+key"));
    };
    if !valid_key_name(name) {
        return Err(KeyError::InvalidName);
    }
    let id = parse_hex4(id).ok_or(KeyError::Malformed("key ID is not 8 hex digits"))?;
    let raw = B64.decode(key).map_err(|_| KeyError::Malformed("key is not base64"))?;
    let (&alg, rest) = raw.split_first().ok_or(KeyError::Malformed("empty key"))?;
    if alg != ALG_ED25519 {
        return Err(KeyError::UnknownAlgorithm(alg));
    }
    let key: [u8; 32] = rest.try_into().map_err(|_| KeyError::Malformed("key is not 32 bytes"))?;
    Ok((name, id, key))
}

fn encode_key(key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(ALG_ED25519);
    raw.extend_from_slice(key);
    B64.encode(raw)
}

/// A named Ed25519 note signing key. `Debug` does not show the secret.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    key: ed25519_dalek::SigningKey,
    id: [u8; 4],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("name", &self.name).field("key_id", &hex4(self.id)).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key with this name and 32-byte Ed25519 seed (the RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        if !valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let id = key_id(name, &key.verifying_key().to_bytes());
        Ok(SigningKey { name: name.to_owned(), key, id })
    }

    /// A new key from 32 bytes of caller-provided randomness (from the OS CSPRNG).
    pub fn generate_from(name: &str, random: [u8; 32]) -> Result<Self, KeyError> {
        Self::from_seed(name, &random)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`, checking the ID against the
    /// derived public key. Strict: trim a file's trailing newline first.
    pub fn parse_private(text: &str) -> Result<Self, KeyError> {
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(KeyError::Malformed("missing PRIVATE+KEY+ prefix"))?;
        let (name, id, seed) = parse_key_parts(rest)?;
        let key = Self::from_seed(name, &seed)?;
        if key.id != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(key)
    }

    /// The private key text, `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`. Secret.
    pub fn to_private_text(&self) -> String {
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex4(self.id), encode_key(&self.key.to_bytes()))
    }

    /// The note key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public half; its `Display` is the verifier key text.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// The raw Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// A named Ed25519 note verifier key; `Display`/`FromStr` use `<name>+<hex id>+<base64 key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex id>+<base64(0x01 ‖ public key)>`, checking the ID.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (name, id, key) = parse_key_parts(text)?;
        if key_id(name, &key) != id {
            return Err(KeyError::KeyIdMismatch);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(VerifierKey { name: name.to_owned(), id, key })
    }

    /// The verifier for a name and a raw public key.
    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        if !valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(VerifierKey { name: name.to_owned(), id: key_id(name, public_key), key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` is this key's Ed25519 signature of `msg` (RFC 8032, strict).
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}+{}", self.name, hex4(self.id), encode_key(&self.key.to_bytes()))
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

/// One signature line of a note, not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A note split into its text and signature lines (syntax checked, nothing verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// Splits a signed note into its text and signatures, checking the syntax only.
pub fn parse_note(note: &str) -> Result<Note, NoteError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(NoteError::Malformed("signature block empty or without final newline"));
    };
    let mut signatures = Vec::new();
    for line in sigs.split('\n') {
        if signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let line = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::Malformed("signature line does not start with an em dash and a space"))?;
        let (name, b64) = line.split_once(' ').ok_or(NoteError::Malformed("signature line without signature"))?;
        if !valid_key_name(name) {
            return Err(NoteError::Malformed("invalid key name in signature line"));
        }
        let raw = B64.decode(b64).map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        });
    }
    Ok(Note { text: text.to_owned(), signatures })
}

/// Signs `text` (which must end in a newline and contain no control characters but newlines):
/// `text + "\n" + "— " + name + " " + base64(key ID ‖ signature) + "\n"`.
pub fn sign_note(text: &str, key: &SigningKey) -> Result<String, NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end in a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    let mut raw = Vec::with_capacity(68);
    raw.extend_from_slice(&key.id);
    raw.extend_from_slice(&key.sign(text.as_bytes()));
    Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", key.name, B64.encode(raw)))
}

/// Verifies a note against one trusted key and returns its text.
///
/// Signatures by other keys (name and ID not both equal to the verifier's) are ignored; every
/// signature by the verifier's key must verify, and there must be at least one.
pub fn verify_note(note: &str, verifier: &VerifierKey) -> Result<String, NoteError> {
    let parsed = parse_note(note)?;
    let mut verified = false;
    for sig in &parsed.signatures {
        if sig.name != verifier.name || sig.key_id != verifier.id {
            continue;
        }
        if !verifier.verify(parsed.text.as_bytes(), &sig.signature) {
            return Err(NoteError::InvalidSignature(verifier.to_string()));
        }
        verified = true;
    }
    if !verified {
        return Err(NoteError::NotSigned(format!("{}+{}", verifier.name, hex4(verifier.id))));
    }
    Ok(parsed.text)
}

/// Signs a checkpoint: [`sign_note`] of [`Checkpoint::body`], refusing a checkpoint whose body
/// would not parse back to itself (empty origin, newlines in a line, empty extension line).
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SigningKey) -> Result<String, NoteError> {
    let body = checkpoint.body();
    if Checkpoint::parse_body(&body)? != *checkpoint {
        return Err(CheckpointError("a line contains a newline").into());
    }
    sign_note(&body, key)
}

/// Verifies a checkpoint note against one trusted key and parses its body.
pub fn verify_checkpoint(note: &str, verifier: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let text = verify_note(note, verifier)?;
    Ok(Checkpoint::parse_body(&text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{EMPTY_ROOT, MemoryTree, leaf_hash};

    // The example key pair and note of golang.org/x/mod/sumdb/note (package doc and
    // note_test.go).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter_note() -> String {
        format!("{TEXT}\n{PETER_SIG}")
    }

    fn test_key(name: &str, fill: u8) -> SigningKey {
        SigningKey::generate_from(name, [fill; 32]).unwrap()
    }

    #[test]
    fn go_note_vector_signs_and_verifies_byte_for_byte() {
        let note = peter_note();
        assert_eq!(
            note,
            "If you think cryptography is the answer to your problem,\n\
             then you don't know what your problem is.\n\
             \n\
             — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        let sk = SigningKey::parse_private(PETER_SKEY).unwrap();
        assert_eq!(sk.name(), "PeterNeumann");
        assert_eq!(sk.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(sk.to_private_text(), PETER_SKEY);
        assert_eq!(sk.verifier_key().to_string(), PETER_VKEY);
        // Ed25519 is deterministic: the same bytes as Go's note.Sign.
        assert_eq!(sign_note(TEXT, &sk).unwrap(), note);

        let vk = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(vk, sk.verifier_key());
        assert_eq!(verify_note(&note, &vk).unwrap(), TEXT);

        // Go's second example key and its signature on the same text.
        let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(verify_note(&both, &vk).unwrap(), TEXT);
        assert_eq!(verify_note(&both, &enoch).unwrap(), TEXT);
        let parsed = parse_note(&both).unwrap();
        assert_eq!(parsed.signatures.len(), 2);
        assert_eq!(parsed.signatures[1].name, "EnochRoot");
        assert_eq!(parsed.signatures[1].key_id, [0xaf, 0x0c, 0xfe, 0x78]);
        // Only an unknown key's signature: not signed.
        let only_enoch = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(verify_note(&only_enoch, &vk), Err(NoteError::NotSigned("PeterNeumann+c74f20a3".into())));
    }

    #[test]
    fn go_malformed_notes_are_rejected() {
        let vk = VerifierKey::parse(PETER_VKEY).unwrap();
        let bad = [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!(
                "{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            format!("{TEXT}\n\u{2014} PeterNeumann\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann \n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann not*base64\n"),
            format!("{TEXT}\n{PETER_SIG}\n"),
            format!("{TEXT}\r\n{PETER_SIG}"),
            format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1)),
        ];
        for note in &bad {
            assert!(
                matches!(verify_note(note, &vk), Err(NoteError::Malformed(_))),
                "accepted or misclassified: {note:?} -> {:?}",
                verify_note(note, &vk)
            );
        }
        // Up to the limit, repeated signatures are fine.
        let many = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
        assert_eq!(verify_note(&many, &vk).unwrap(), TEXT);
    }

    #[test]
    fn tampering_is_rejected() {
        let vk = VerifierKey::parse(PETER_VKEY).unwrap();
        let note = peter_note();
        // Body edited.
        let edited = note.replace("problem,", "problem;");
        assert!(matches!(verify_note(&edited, &vk), Err(NoteError::InvalidSignature(_))));
        // Signature bytes altered (inside the base64, keeping it valid base64).
        let sig_at = note.find("x08go").unwrap() + 20;
        let mut altered = note.clone();
        let c = if &note[sig_at..=sig_at] == "A" { "B" } else { "A" };
        altered.replace_range(sig_at..=sig_at, c);
        assert!(matches!(verify_note(&altered, &vk), Err(NoteError::InvalidSignature(_))));
        // Go's "ABCD" insertion: still base64, wrong length for Ed25519.
        let split = TEXT.len() + 1 + 60;
        let inserted = format!("{}ABCD{}", &note[..split], &note[split..]);
        assert!(matches!(verify_note(&inserted, &vk), Err(NoteError::InvalidSignature(_))));
        // A good signature plus a bad one by the same key: the note is rejected.
        let twice = format!("{note}{}", &altered[TEXT.len() + 1..]);
        assert!(matches!(verify_note(&twice, &vk), Err(NoteError::InvalidSignature(_))));
        // Wrong key name (same key ID): an unknown key, so unsigned.
        let renamed = note.replace("\u{2014} PeterNeumann", "\u{2014} CarmenSandiego");
        assert!(matches!(verify_note(&renamed, &vk), Err(NoteError::NotSigned(_))));
        // Wrong key ID (same name): unknown too.
        let reid = note.replace("x08g", "xxxx");
        assert!(matches!(verify_note(&reid, &vk), Err(NoteError::NotSigned(_))));
        // Wrong key under the same name: its ID differs, so unknown.
        let other = test_key("PeterNeumann", 7).verifier_key();
        assert!(matches!(verify_note(&note, &other), Err(NoteError::NotSigned(_))));
    }

    #[test]
    fn a_forged_key_id_collision_still_fails() {
        // A verifier whose name and ID match the signature line but whose key differs (what an
        // attacker who collides the 32-bit ID gets): the signature is checked and fails.
        let real = test_key("auditrail.example.com", 1);
        let note = sign_note("hello\n", &real).unwrap();
        let other = test_key("auditrail.example.com", 2).verifier_key();
        let forged = VerifierKey { id: real.key_id(), ..other };
        assert!(matches!(verify_note(&note, &forged), Err(NoteError::InvalidSignature(_))));
    }

    #[test]
    fn key_id_is_sha256_of_name_newline_alg_key() {
        let key = test_key("auditrail.example.com", 42);
        let mut h = Sha256::new();
        h.update(b"auditrail.example.com\n\x01");
        h.update(key.public_key());
        let d = h.finalize();
        assert_eq!(key.key_id(), [d[0], d[1], d[2], d[3]]);
        assert_eq!(key_id("auditrail.example.com", &key.public_key()), key.key_id());
        // The Go vector's ID from its public key.
        let raw = B64.decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
        let pk: [u8; 32] = raw[1..].try_into().unwrap();
        assert_eq!(raw[0], ALG_ED25519);
        let d = Sha256::digest([b"PeterNeumann\n".as_slice(), &raw].concat());
        assert_eq!(&d[..4], &[0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(key_id("PeterNeumann", &pk), [0xc7, 0x4f, 0x20, 0xa3]);
    }

    #[test]
    fn key_texts_round_trip() {
        let key = test_key("auditrail.example.com/org", 9);
        let skey = key.to_private_text();
        assert!(skey.starts_with("PRIVATE+KEY+auditrail.example.com/org+"));
        let back = SigningKey::parse_private(&skey).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.to_private_text(), skey);
        let vkey = key.verifier_key().to_string();
        assert_eq!(
            vkey,
            format!("auditrail.example.com/org+{}+{}", hex4(key.key_id()), {
                let mut raw = vec![1u8];
                raw.extend_from_slice(&key.public_key());
                B64.encode(raw)
            })
        );
        let vk: VerifierKey = vkey.parse().unwrap();
        assert_eq!(vk, key.verifier_key());
        assert_eq!(vk.to_string(), vkey);
        assert_eq!(VerifierKey::from_public_key("auditrail.example.com/org", &key.public_key()).unwrap(), vk);
        // Upper-case hex is accepted, as by Go.
        let upper = vkey.replacen(&hex4(key.key_id()), &hex4(key.key_id()).to_uppercase(), 1);
        assert_eq!(VerifierKey::parse(&upper).unwrap(), vk);
        // The secret stays out of Debug.
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&skey[skey.len() - 20..]), "{dbg}");
    }

    #[test]
    fn every_mangled_key_text_is_rejected() {
        // As Go's TestNewVerifier/TestNewSigner: every proper substring and every single-byte
        // increment of the vector keys fails to parse.
        for (text, is_private) in [(PETER_VKEY, false), (PETER_SKEY, true)] {
            let parse = |s: &str| {
                if is_private { SigningKey::parse_private(s).map(|_| ()) } else { VerifierKey::parse(s).map(|_| ()) }
            };
            assert_eq!(parse(text), Ok(()));
            let b = text.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if i != 0 || j != b.len() {
                        let s = std::str::from_utf8(&b[i..j]).unwrap();
                        assert!(parse(s).is_err(), "accepted {s:?}");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                let s = String::from_utf8(m).unwrap();
                assert!(parse(&s).is_err(), "accepted {s:?}");
            }
        }
        // Go's wrong-length key and unknown-algorithm key, each with a matching key hash.
        assert!(
            VerifierKey::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==").is_err()
        );
        assert_eq!(
            VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(KeyError::UnknownAlgorithm(0x65))
        );
        for name in ["", "a b", "a+b", "tab\there", "nbsp\u{a0}x", "nl\n"] {
            assert_eq!(SigningKey::from_seed(name, &[0; 32]).unwrap_err(), KeyError::InvalidName);
        }
    }

    #[test]
    fn checkpoint_body_round_trip() {
        let tree = MemoryTree::from_leaves((0..5u8).map(|i| leaf_hash(&[i])));
        let cp = Checkpoint::new("auditrail.example.com/org/abc", 5, tree.root());
        let body = cp.body();
        assert_eq!(body, format!("auditrail.example.com/org/abc\n5\n{}\n", B64.encode(tree.root())));
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), cp);
        let with_ext = Checkpoint { extensions: vec!["ext one".into(), "two".into()], ..cp };
        assert!(with_ext.body().ends_with("\next one\ntwo\n"));
        assert_eq!(Checkpoint::parse_body(&with_ext.body()).unwrap(), with_ext);

        // The C2SP example body.
        let spec = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let parsed = Checkpoint::parse_body(spec).unwrap();
        assert_eq!(parsed.origin, "example.com/behind-the-sofa");
        assert_eq!(parsed.size, 20852163);
        assert_eq!(parsed.body(), spec);

        let empty = Checkpoint::new("o", 0, EMPTY_ROOT);
        assert_eq!(empty.body(), "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        assert_eq!(Checkpoint::parse_body(&empty.body()).unwrap(), empty);
    }

    #[test]
    fn malformed_checkpoint_bodies_are_rejected() {
        let r = B64.encode([7u8; 32]);
        let bad = [
            String::new(),
            format!("o\n5\n{r}"),
            "o\n5\n".to_string(),
            format!("\n5\n{r}\n"),
            format!("o\n05\n{r}\n"),
            format!("o\n+5\n{r}\n"),
            format!("o\n-5\n{r}\n"),
            format!("o\n5 \n{r}\n"),
            format!("o\n\n{r}\n"),
            format!("o\n18446744073709551616\n{r}\n"),
            "o\n5\nAAAA\n".to_string(),
            format!("o\n5\n{}\n", B64.encode([7u8; 33])),
            format!("o\n5\n{}\n", &r[..r.len() - 1]),
            format!("o\n5\n{r}\n\n"),
            format!("o\n5\n{r}\next\n\nmore\n"),
            format!("o\t\n5\n{r}\n"),
        ];
        for b in &bad {
            assert!(Checkpoint::parse_body(b).is_err(), "accepted {b:?}");
        }
        assert_eq!(Checkpoint::parse_body(&format!("o\n18446744073709551615\n{r}\n")).unwrap().size, u64::MAX);
    }

    #[test]
    fn signed_checkpoint_round_trip_and_rejections() {
        let key = test_key("auditrail.example.com", 3);
        let vk = VerifierKey::parse(&key.verifier_key().to_string()).unwrap();
        let tree = MemoryTree::from_leaves((0..9u8).map(|i| leaf_hash(&[i])));
        let cp = Checkpoint::new("auditrail.example.com/org/o1", 9, tree.root());
        let note = sign_checkpoint(&cp, &key).unwrap();
        assert!(note.starts_with(&format!("{}\n\u{2014} auditrail.example.com ", cp.body())));
        assert!(note.ends_with("\n"));
        assert_eq!(verify_checkpoint(&note, &vk).unwrap(), cp);

        // Tampered body (size, root), tampered signature, wrong key, wrong name.
        let bigger = note.replacen("\n9\n", "\n10\n", 1);
        assert!(matches!(verify_checkpoint(&bigger, &vk), Err(NoteError::InvalidSignature(_))));
        let other_root = note.replacen(&B64.encode(tree.root()), &B64.encode(tree.root_at(8).unwrap()), 1);
        assert!(matches!(verify_checkpoint(&other_root, &vk), Err(NoteError::InvalidSignature(_))));
        let sig_start = note.rfind(' ').unwrap() + 10;
        let mut bad_sig = note.clone();
        let c = if &note[sig_start..=sig_start] == "Q" { "R" } else { "Q" };
        bad_sig.replace_range(sig_start..=sig_start, c);
        assert!(matches!(verify_checkpoint(&bad_sig, &vk), Err(NoteError::InvalidSignature(_))));
        let wrong_key = test_key("auditrail.example.com", 4).verifier_key();
        assert!(matches!(verify_checkpoint(&note, &wrong_key), Err(NoteError::NotSigned(_))));
        let wrong_name = VerifierKey::from_public_key("other.example.com", &key.public_key()).unwrap();
        assert!(matches!(verify_checkpoint(&note, &wrong_name), Err(NoteError::NotSigned(_))));

        // A cosignature by another key does not disturb verification (and is ignored).
        let witness = test_key("witness.example", 5);
        let cosigned = format!("{note}{}", &sign_note(&cp.body(), &witness).unwrap()[cp.body().len() + 1..]);
        assert_eq!(verify_checkpoint(&cosigned, &vk).unwrap(), cp);
        assert_eq!(verify_checkpoint(&cosigned, &witness.verifier_key()).unwrap(), cp);

        // A verified note whose text is not a checkpoint.
        let not_cp = sign_note("just text\n", &key).unwrap();
        assert!(matches!(verify_checkpoint(&not_cp, &vk), Err(NoteError::Checkpoint(_))));
    }

    #[test]
    fn signing_refuses_what_would_not_parse_back() {
        let key = test_key("k", 1);
        assert!(matches!(sign_note("no newline", &key), Err(NoteError::Malformed(_))));
        assert!(matches!(sign_note("ctl\x07\n", &key), Err(NoteError::Malformed(_))));
        let r = [1u8; 32];
        for cp in [
            Checkpoint::new("", 1, r),
            Checkpoint::new("two\nlines", 1, r),
            Checkpoint { extensions: vec![String::new()], ..Checkpoint::new("o", 1, r) },
            Checkpoint { extensions: vec!["a\nb".into()], ..Checkpoint::new("o", 1, r) },
        ] {
            assert!(sign_checkpoint(&cp, &key).is_err(), "{cp:?}");
        }
        // A text that itself contains blank lines and dash lines still splits at the last one.
        let tricky = "a\n\n\u{2014} x AAAAAAAA\n";
        let note = sign_note(tricky, &key).unwrap();
        assert_eq!(verify_note(&note, &key.verifier_key()).unwrap(), tricky);
    }
}
