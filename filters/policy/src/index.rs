//! Candidate rules by request path: a byte trie over the rules' exact paths and prefixes, so
//! a request looks at the few rules whose paths can match instead of scanning them all.
//! Rules without paths, or with a glob or regex path, are candidates for every request.

use crate::compile::Rule;
use crate::matchers::PathMatcher;

/// The index, built once at load.
#[derive(Debug, Default)]
pub struct PathIndex {
    nodes: Vec<Node>,
    /// Rules every request must look at.
    always: Vec<u32>,
}

#[derive(Debug, Default)]
struct Node {
    /// Children by next byte, sorted.
    children: Vec<(u8, u32)>,
    /// Rules with a prefix ending here.
    prefix: Vec<u32>,
    /// Rules with an exact path ending here.
    exact: Vec<u32>,
}

impl PathIndex {
    /// Indexes `rules` (by position).
    pub fn build(rules: &[Rule]) -> PathIndex {
        let mut index = PathIndex { nodes: vec![Node::default()], always: Vec::new() };
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            let indexable = !rule.paths.is_empty() && rule.paths.iter().all(|p| !matches!(p, PathMatcher::Pattern(_)));
            if !indexable {
                index.always.push(i);
                continue;
            }
            for path in &rule.paths {
                match path {
                    PathMatcher::Exact(p) => {
                        let node = index.insert(p.as_bytes());
                        index.nodes[node].exact.push(i);
                    }
                    PathMatcher::Prefix(p) => {
                        let node = index.insert(p.as_bytes());
                        index.nodes[node].prefix.push(i);
                    }
                    PathMatcher::Pattern(_) => {}
                }
            }
        }
        index
    }

    fn insert(&mut self, key: &[u8]) -> usize {
        let mut at = 0usize;
        for &byte in key {
            at = match self.nodes[at].children.binary_search_by_key(&byte, |(b, _)| *b) {
                Ok(found) => self.nodes[at].children[found].1 as usize,
                Err(slot) => {
                    let next = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[at].children.insert(slot, (byte, next as u32));
                    next
                }
            };
        }
        at
    }

    /// Rules that may match `path` (sorted, without duplicates) into `out`.
    pub fn candidates(&self, path: &str, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.always);
        let mut at = 0usize;
        out.extend_from_slice(&self.nodes[0].prefix);
        let bytes = path.as_bytes();
        for (depth, &byte) in bytes.iter().enumerate() {
            let node = &self.nodes[at];
            match node.children.binary_search_by_key(&byte, |(b, _)| *b) {
                Ok(found) => at = node.children[found].1 as usize,
                Err(_) => break,
            }
            let node = &self.nodes[at];
            out.extend_from_slice(&node.prefix);
            if depth + 1 == bytes.len() {
                out.extend_from_slice(&node.exact);
            }
        }
        if bytes.is_empty() {
            out.extend_from_slice(&self.nodes[0].exact);
        }
        out.sort_unstable();
        out.dedup();
    }
}
