//! The head's string table: every distinct label name and value is stored once and referred to
//! by a `u32` symbol (upstream keeps one copy per string via its `labels` stringlabels and
//! `index.Symbols`).
//! Invariant: symbols are never removed or renumbered while the head lives, so a series' symbol
//! pairs stay valid without holding the table's lock.

use std::collections::HashMap;
use std::sync::Arc;

/// Interned strings and their symbols.
#[derive(Default)]
pub(crate) struct Symbols {
    by_string: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    strings: Vec<Arc<str>>,
}

impl Symbols {
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.by_string.get(s).copied()
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(sym) = self.by_string.get(s) {
            return *sym;
        }
        let sym = u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct label strings");
        let s: Arc<str> = Arc::from(s);
        self.strings.push(Arc::clone(&s));
        self.by_string.insert(s, sym);
        sym
    }

    pub(crate) fn resolve(&self, sym: u32) -> &str {
        &self.strings[sym as usize]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    /// Heap bytes: string bytes, `Arc` headers, map and vector slots.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let strings: usize = self.strings.iter().map(|s| s.len() + 16).sum();
        strings + self.strings.capacity() * 16 + self.by_string.capacity() * (16 + 4 + 4 + 1)
    }
}
