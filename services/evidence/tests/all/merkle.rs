//! The Merkle log agrees with the published RFC 6962 / Certificate Transparency test vectors,
//! and every proof verifies while every altered proof fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use warden_evidence::core::merkle::{
    empty_root, from_hex, hex, inclusion_proof, leaf_hash, needed, root, verify_consistency, verify_inclusion, Hash,
    MemoryTree, MerkleError, StoredHashes,
};

/// The CT reference entries (hex), and the root for each tree size 1..=8.
const ENTRIES: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn bytes(hex_text: &str) -> Vec<u8> {
    (0..hex_text.len()).step_by(2).map(|i| u8::from_str_radix(&hex_text[i..i + 2], 16).unwrap()).collect()
}

fn reference_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for entry in ENTRIES {
        tree.append(&bytes(entry)).unwrap();
    }
    tree
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|h| from_hex(h).unwrap()).collect()
}

#[test]
fn roots_match_the_rfc_6962_vectors() {
    let tree = reference_tree();
    assert_eq!(hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(tree.root(0).unwrap(), empty_root());
    for (size, expected) in ROOTS.iter().enumerate() {
        assert_eq!(hex(&tree.root(size as u64 + 1).unwrap()), *expected, "size {}", size + 1);
    }
}

#[test]
fn proofs_match_the_published_vectors() {
    let tree = reference_tree();
    let cases: [(u64, &[&str]); 2] = [
        (
            0,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let root8 = from_hex(ROOTS[7]).unwrap();
    for (index, expected) in cases {
        assert_eq!(tree.inclusion_proof(index, 8).unwrap(), hashes(expected), "inclusion of {index}");
        let leaf = leaf_hash(&bytes(ENTRIES[index as usize]));
        verify_inclusion(&hashes(expected), index, 8, leaf, root8).unwrap();
    }
    let consistency: [(u64, &[&str]); 2] = [
        (
            2,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, expected) in consistency {
        assert_eq!(tree.consistency_proof(old, 8).unwrap(), hashes(expected), "consistency {old} -> 8");
        let old_root = from_hex(ROOTS[old as usize - 1]).unwrap();
        verify_consistency(&hashes(expected), old, old_root, 8, root8).unwrap();
    }
}

/// Only the stored hashes that [`needed`] named, fetched up front.
struct Fetched(Vec<(u64, Hash)>);

impl StoredHashes for Fetched {
    fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|i| self.0.iter().find(|(j, _)| j == i).map(|(_, h)| *h).ok_or(MerkleError::Missing(*i)))
            .collect()
    }
}

fn fetch(tree: &MemoryTree, indexes: &[u64]) -> Fetched {
    Fetched(indexes.iter().map(|&i| (i, tree.read(&[i]).unwrap()[0])).collect())
}

#[test]
fn a_store_learns_which_hashes_a_proof_reads_before_reading_them() {
    let tree = reference_tree();
    let for_proof = needed(|stored| inclusion_proof(5, 8, stored));
    assert_eq!(inclusion_proof(5, 8, &fetch(&tree, &for_proof)).unwrap(), tree.inclusion_proof(5, 8).unwrap());
    let for_root = needed(|stored| root(7, stored));
    assert_eq!(root(7, &fetch(&tree, &for_root)).unwrap(), tree.root(7).unwrap());
    // Missing a hash is an error naming it, never a wrong answer.
    let short = fetch(&tree, &for_root[1..]);
    assert!(matches!(root(7, &short), Err(MerkleError::Missing(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_proof_verifies_and_every_altered_one_fails(size in 1u64..70, pick in any::<u64>(), flip in any::<u8>()) {
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.append(format!("record {i}").as_bytes()).unwrap();
        }
        let root = tree.root(size).unwrap();
        let index = pick % size;
        let leaf = leaf_hash(format!("record {index}").as_bytes());
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&proof, index, size, leaf, root).is_ok());
        prop_assert!(verify_inclusion(&proof, index, size, leaf_hash(b"forged"), root).is_err());
        if !proof.is_empty() {
            let mut altered = proof.clone();
            let at = (flip as usize) % altered.len();
            altered[at].0[(flip as usize) % 32] ^= 1 << (flip % 8);
            prop_assert!(verify_inclusion(&altered, index, size, leaf, root).is_err());
            prop_assert!(verify_inclusion(&proof[..proof.len() - 1], index, size, leaf, root).is_err());
        }
        let old = 1 + pick % size;
        let old_root = tree.root(old).unwrap();
        let consistency = tree.consistency_proof(old, size).unwrap();
        prop_assert!(verify_consistency(&consistency, old, old_root, size, root).is_ok());
        if old < size {
            // A log that rewrote history: the old root of a different prefix fails.
            let mut other = MemoryTree::new();
            for i in 0..size {
                other.append(format!("record {}", if i == 0 { 999 } else { i }).as_bytes()).unwrap();
            }
            prop_assert!(verify_consistency(&consistency, old, other.root(old).unwrap(), size, root).is_err());
            prop_assert!(verify_consistency(&consistency, old, old_root, size, other.root(size).unwrap()).is_err());
        }
    }
}
