//! Signed checkpoints (C2SP `tlog-checkpoint` in a `signed-note`): the log's origin, size and
//! root, signed by the log's key (named by the origin) and optionally cosigned by witnesses.
//! [`open`] is what an auditor runs: it accepts a checkpoint only when the log's signature
//! verifies and enough distinct trusted witnesses cosigned it.

use super::cosign::{WitnessSigner, WitnessVerifier};
use super::keys::{self, KeyError, NamedKey, ALG_ED25519};
use super::merkle::Hash;
use ed25519_dalek::{Signer as _, Verifier as _, VerifyingKey};
use signed_note::{Note, VerifierList};

/// Why a checkpoint was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a signed note, or its text is not a checkpoint.
    #[error("not a signed checkpoint: {0}")]
    Malformed(String),
    /// The log's signature is missing or does not verify.
    #[error("the log's signature ({0}) is missing or does not verify")]
    LogSignature(String),
    /// A signature by a known key does not verify (a forged or altered checkpoint).
    #[error("a signature by {0} does not verify")]
    BadSignature(String),
    /// The checkpoint is for another log.
    #[error("the checkpoint is for {found:?}, not {expected:?}")]
    Origin {
        /// Expected origin.
        expected: String,
        /// Found origin.
        found: String,
    },
    /// Fewer trusted witnesses cosigned it than required.
    #[error("{found} trusted witness cosignatures, {required} required")]
    Witnesses {
        /// Distinct trusted witnesses that cosigned.
        found: usize,
        /// Required.
        required: usize,
    },
}

/// A checkpoint's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The log's origin (also its key name).
    pub origin: String,
    /// Entries in the tree.
    pub size: u64,
    /// Root of the tree.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text (`<origin>\n<size>\n<base64 root>\n`).
    pub fn text(&self) -> Result<Vec<u8>, CheckpointError> {
        tlog_tiles::Checkpoint::new(&self.origin, self.size, self.root, "")
            .map(|c| c.to_bytes())
            .map_err(|_| CheckpointError::Malformed("origin".into()))
    }
}

/// The log's checkpoint signer (Ed25519 note signatures).
#[derive(Debug, Clone)]
pub struct LogSigner {
    key: NamedKey,
    id: u32,
}

impl LogSigner {
    /// The log called `origin` (e.g. `warden.example.com/evidence`) with an Ed25519 seed.
    pub fn new(origin: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        let key = NamedKey::from_seed(origin, seed)?;
        let id = keys::key_id(origin, ALG_ED25519, &key.public());
        Ok(LogSigner { key, id })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.key.name
    }

    /// The verifier key auditors trust (`<origin>+<id>+<base64>`).
    pub fn vkey(&self) -> String {
        keys::vkey(&self.key.name, ALG_ED25519, &self.key.public())
    }

    /// The signed checkpoint note for the tree of `size` entries with root `root`.
    pub fn sign(&self, size: u64, root: Hash) -> Result<Vec<u8>, CheckpointError> {
        let checkpoint = Checkpoint { origin: self.key.name.clone(), size, root };
        let mut note = Note::new(&checkpoint.text()?, &[]).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        note.add_sigs(&[self]).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        Ok(note.to_bytes())
    }
}

impl signed_note::Signer for LogSigner {
    fn name(&self) -> &str {
        &self.key.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.signing.sign(msg).to_bytes().to_vec())
    }
}

/// Verifies the log's note signatures.
#[derive(Debug, Clone)]
pub struct LogVerifier {
    name: String,
    id: u32,
    public: VerifyingKey,
}

impl LogVerifier {
    /// From the log's verifier key text.
    pub fn new(vkey: &str) -> Result<Self, KeyError> {
        let (name, id, public) = keys::parse_vkey(vkey, ALG_ED25519)?;
        Ok(LogVerifier { name, id, public })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.name
    }
}

impl signed_note::Verifier for LogVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else { return false };
        self.public.verify(msg, &sig).is_ok()
    }
}

/// A checkpoint that was accepted, and who signed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// Its content.
    pub checkpoint: Checkpoint,
    /// Names of the trusted witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Cosignature times (seconds since the epoch), by witness name.
    pub cosigned_at: Vec<(String, u64)>,
}

/// Opens a signed checkpoint: the log's signature must verify, every signature by a key in
/// `log` or `witnesses` must verify, and at least `required` distinct trusted witnesses must
/// have cosigned. Signatures by unknown keys are ignored.
pub fn open(
    note: &[u8],
    log: &LogVerifier,
    witnesses: &[WitnessVerifier],
    required: usize,
) -> Result<Opened, CheckpointError> {
    let parsed = Note::from_bytes(note).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    let mut known: Vec<Box<dyn signed_note::Verifier>> = vec![Box::new(log.clone())];
    known.extend(witnesses.iter().map(|w| Box::new(w.clone()) as Box<dyn signed_note::Verifier>));
    let (verified, _unknown) = parsed.verify(&VerifierList::new(known)).map_err(|e| match e {
        signed_note::NoteError::InvalidSignature { name, .. } => CheckpointError::BadSignature(name),
        signed_note::NoteError::UnverifiedNote => CheckpointError::LogSignature(log.name.clone()),
        other => CheckpointError::Malformed(other.to_string()),
    })?;
    if !verified.iter().any(|s| s.name() == log.name && s.id() == log.id) {
        return Err(CheckpointError::LogSignature(log.name.clone()));
    }
    let text = parsed.text();
    let parsed_checkpoint =
        tlog_tiles::Checkpoint::from_bytes(text).map_err(|_| CheckpointError::Malformed("checkpoint text".into()))?;
    if parsed_checkpoint.origin() != log.name {
        return Err(CheckpointError::Origin {
            expected: log.name.clone(),
            found: parsed_checkpoint.origin().to_string(),
        });
    }
    if !parsed_checkpoint.extension().is_empty() {
        return Err(CheckpointError::Malformed("unexpected extension lines".into()));
    }
    let mut names = Vec::new();
    let mut cosigned_at = Vec::new();
    for w in witnesses {
        if let Some(sig) = verified.iter().find(|s| s.name() == w.name() && s.id() == w.id()) {
            if !names.contains(&w.name().to_string()) {
                names.push(w.name().to_string());
                cosigned_at.push((w.name().to_string(), WitnessVerifier::time_of(sig.signature()).unwrap_or(0)));
            }
        }
    }
    if names.len() < required {
        return Err(CheckpointError::Witnesses { found: names.len(), required });
    }
    Ok(Opened {
        checkpoint: Checkpoint {
            origin: parsed_checkpoint.origin().to_string(),
            size: parsed_checkpoint.size(),
            root: *parsed_checkpoint.hash(),
        },
        witnesses: names,
        cosigned_at,
    })
}

/// Adds `witness`'s cosignature to a signed checkpoint note (what a witness returns, added
/// by the log); a previous cosignature by the same key is replaced.
pub fn add_cosignature(note: &[u8], witness: &WitnessSigner) -> Result<Vec<u8>, CheckpointError> {
    let mut parsed = Note::from_bytes(note).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    parsed.add_sigs(&[witness]).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    Ok(parsed.to_bytes())
}
