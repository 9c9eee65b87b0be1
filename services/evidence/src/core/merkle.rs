//! The Merkle log: RFC 6962 leaf and node hashing, tree heads, inclusion and consistency
//! proofs. The algorithms are `tlog_tiles`' (a port of Go's `sumdb/tlog`); this module adds
//! the pieces a ledger needs around them: a tree kept as its *stored hashes* (two per entry,
//! appended, never rewritten, which is what a database table holds) and a way to learn which
//! stored hashes a computation will read before reading them from storage.

use std::cell::RefCell;
use std::collections::BTreeMap;
use tlog_tiles::{HashReader, TreeProof};

pub use tlog_tiles::{Hash, RecordProof, HASH_SIZE};

/// Why a tree operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A proof does not prove what it claims (or its sizes are impossible).
    #[error("the proof does not verify")]
    InvalidProof,
    /// Sizes or indexes out of range (e.g. an inclusion proof for an entry past the tree).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// Storage did not have a hash it should have (a truncated or damaged tree).
    #[error("stored hash {0} is missing")]
    Missing(u64),
}

fn from_tlog(error: tlog_tiles::Error) -> MerkleError {
    match error {
        tlog_tiles::Error::InvalidProof => MerkleError::InvalidProof,
        other => MerkleError::OutOfRange(other.to_string()),
    }
}

/// The RFC 6962 leaf hash of an entry: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry)
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    tlog_tiles::EMPTY_HASH
}

/// Reads stored hashes by their index (see [`tlog_tiles::stored_hash_index`]).
pub trait StoredHashes {
    /// The hashes at `indexes`, in order; `Missing` if any is absent.
    fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError>;
}

/// Adapts [`StoredHashes`] to `tlog_tiles`' reader, keeping the first storage error.
struct Reader<'a, S: StoredHashes + ?Sized> {
    stored: &'a S,
    error: RefCell<Option<MerkleError>>,
}

impl<S: StoredHashes + ?Sized> HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        match self.stored.read(indexes) {
            Ok(hashes) if hashes.len() == indexes.len() => Ok(hashes),
            Ok(_) => {
                self.error.replace(Some(MerkleError::Missing(indexes.first().copied().unwrap_or(0))));
                Err(tlog_tiles::Error::IndexesNotInTree)
            }
            Err(e) => {
                self.error.replace(Some(e));
                Err(tlog_tiles::Error::IndexesNotInTree)
            }
        }
    }
}

fn with_reader<S: StoredHashes + ?Sized, T>(
    stored: &S,
    run: impl FnOnce(&Reader<'_, S>) -> Result<T, tlog_tiles::Error>,
) -> Result<T, MerkleError> {
    let reader = Reader { stored, error: RefCell::new(None) };
    let result = run(&reader);
    match (result, reader.error.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(storage)) => Err(storage),
        (Err(e), None) => Err(from_tlog(e)),
    }
}

/// The stored hashes a computation reads. Which hashes the tree algorithms read depends only
/// on sizes and indexes, never on hash values, so a store can learn them with this, fetch
/// them in one query, and then run the computation on what it fetched.
pub fn needed<T>(run: impl FnOnce(&dyn StoredHashes) -> Result<T, MerkleError>) -> Vec<u64> {
    struct Recorder(RefCell<Vec<u64>>);
    impl StoredHashes for Recorder {
        fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
            self.0.borrow_mut().extend_from_slice(indexes);
            Ok(vec![Hash([0; HASH_SIZE]); indexes.len()])
        }
    }
    let recorder = Recorder(RefCell::new(Vec::new()));
    let _ = run(&recorder);
    let mut indexes = recorder.0.into_inner();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// The stored hashes to append when entry number `index` (0-based, the tree then has `index`
/// entries) with leaf hash `leaf` is added: the leaf, then each completed subtree.
pub fn hashes_to_append(
    index: u64,
    leaf: Hash,
    stored: &(impl StoredHashes + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    with_reader(stored, |r| tlog_tiles::stored_hashes_for_record_hash(index, leaf, r))
}

/// The root of the tree of the first `size` entries.
pub fn root(size: u64, stored: &(impl StoredHashes + ?Sized)) -> Result<Hash, MerkleError> {
    with_reader(stored, |r| tlog_tiles::tree_hash(size, r))
}

/// Proof that entry `index` is in the tree of `size` entries.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    stored: &(impl StoredHashes + ?Sized),
) -> Result<RecordProof, MerkleError> {
    if index >= size {
        return Err(MerkleError::OutOfRange(format!("entry {index} is not in a tree of {size}")));
    }
    with_reader(stored, |r| tlog_tiles::prove_record(size, index, r))
}

/// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size`.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    stored: &(impl StoredHashes + ?Sized),
) -> Result<TreeProof, MerkleError> {
    if old_size == 0 || old_size > new_size {
        return Err(MerkleError::OutOfRange(format!("no consistency proof from {old_size} to {new_size}")));
    }
    with_reader(stored, |r| tlog_tiles::prove_tree(new_size, old_size, r))
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries whose root is `root`.
pub fn verify_inclusion(proof: &[Hash], index: u64, size: u64, leaf: Hash, root: Hash) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::InvalidProof);
    }
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf).map_err(|_| MerkleError::InvalidProof)
}

/// Checks that the tree of `old_size` entries with root `old_root` is a prefix of the tree of
/// `new_size` entries with root `new_root`. Equal sizes need equal roots and an empty proof.
pub fn verify_consistency(
    proof: &[Hash],
    old_size: u64,
    old_root: Hash,
    new_size: u64,
    new_root: Hash,
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::InvalidProof);
    }
    if old_size == 0 {
        return if old_root == empty_root() && proof.is_empty() { Ok(()) } else { Err(MerkleError::InvalidProof) };
    }
    tlog_tiles::check_tree(&proof.to_vec(), new_size, new_root, old_size, old_root)
        .map_err(|_| MerkleError::InvalidProof)
}

/// A tree in memory: its stored hashes. What an auditor's verifier builds from an exported
/// bundle (the entries of a range, on top of the few stored hashes of the tree before it),
/// and what tests use.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// Stored hashes of the tree before the first entry appended here, by index (only those
    /// that later computations read).
    prefix: BTreeMap<u64, Hash>,
    /// Index of `stored[0]`.
    base: u64,
    stored: Vec<Hash>,
    size: u64,
}

impl StoredHashes for MemoryTree {
    fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|&i| {
                let found = if i >= self.base {
                    usize::try_from(i - self.base).ok().and_then(|k| self.stored.get(k))
                } else {
                    self.prefix.get(&i)
                };
                found.copied().ok_or(MerkleError::Missing(i))
            })
            .collect()
    }
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// A tree of `size` entries known only by some of its stored hashes (`prefix`, by index):
    /// entries appended next, roots and proofs then read only what they need of it.
    pub fn from_prefix(size: u64, prefix: BTreeMap<u64, Hash>) -> Self {
        MemoryTree { prefix, base: tlog_tiles::stored_hash_count(size), stored: Vec::new(), size }
    }

    /// Entries so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends an entry; returns its index.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, MerkleError> {
        self.append_leaf(leaf_hash(entry))
    }

    /// Appends an entry by its leaf hash; returns its index.
    pub fn append_leaf(&mut self, leaf: Hash) -> Result<u64, MerkleError> {
        let index = self.size;
        let new = hashes_to_append(index, leaf, self)?;
        self.stored.extend(new);
        self.size += 1;
        Ok(index)
    }

    /// The root of the first `size` entries (the whole tree: `self.size()`).
    pub fn root(&self, size: u64) -> Result<Hash, MerkleError> {
        if size > self.size {
            return Err(MerkleError::OutOfRange(format!("the tree has {} entries, not {size}", self.size)));
        }
        root(size, self)
    }

    /// Proof that entry `index` is in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<RecordProof, MerkleError> {
        if size > self.size {
            return Err(MerkleError::OutOfRange(format!("the tree has {} entries, not {size}", self.size)));
        }
        inclusion_proof(index, size, self)
    }

    /// Proof that the tree of `old_size` entries is a prefix of the tree of `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<TreeProof, MerkleError> {
        if new_size > self.size {
            return Err(MerkleError::OutOfRange(format!("the tree has {} entries, not {new_size}", self.size)));
        }
        consistency_proof(old_size, new_size, self)
    }
}

/// A hash as lowercase hex (how the ledger's JSON shows hashes).
pub fn hex(hash: &Hash) -> String {
    warden_kit::hex::encode(&hash.0)
}

/// Parses 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    warden_kit::hex::decode32(text).map(Hash)
}
