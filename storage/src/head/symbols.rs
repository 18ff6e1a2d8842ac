//! The head's string table: every distinct label name and value is stored once and referred to
//! by a `u32` symbol (upstream keeps one copy per string via its `labels` stringlabels and
//! `index.Symbols`).
//! Invariant: a symbol is never renumbered, and is freed (its slot reused) only by head
//! truncation, which holds the WAL lock (no series is being created) and the truncation lock (no
//! select holds a series), after removing every series that used it; so a live series' symbol
//! pairs stay valid without holding the table's lock.

use std::collections::HashMap;
use std::sync::Arc;

/// Interned strings and their symbols.
#[derive(Default)]
pub(crate) struct Symbols {
    by_string: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    strings: Vec<Arc<str>>,
    /// Slots freed by [`Symbols::retain`], reused by `intern`.
    free: Vec<u32>,
}

impl Symbols {
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.by_string.get(s).copied()
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(sym) = self.by_string.get(s) {
            return *sym;
        }
        let s: Arc<str> = Arc::from(s);
        let sym = match self.free.pop() {
            Some(sym) => {
                self.strings[sym as usize] = Arc::clone(&s);
                sym
            }
            None => {
                let sym = u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct label strings");
                self.strings.push(Arc::clone(&s));
                sym
            }
        };
        self.by_string.insert(s, sym);
        sym
    }

    pub(crate) fn resolve(&self, sym: u32) -> &str {
        &self.strings[sym as usize]
    }

    /// Strings in use (interned and not freed).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.strings.len() - self.free.len()
    }

    /// Number of slots, freed ones included: a bound for symbol numbers.
    pub(crate) fn slots(&self) -> usize {
        self.strings.len()
    }

    /// Frees every symbol whose slot in `live` is false; returns how many were freed.
    pub(crate) fn retain(&mut self, live: &[bool]) -> usize {
        let empty: Arc<str> = Arc::from("");
        let mut freed = 0;
        for (sym, s) in self.strings.iter_mut().enumerate() {
            // An empty string is a freed slot: label names and values are never empty.
            if live.get(sym).copied().unwrap_or(true) || s.is_empty() {
                continue;
            }
            self.by_string.remove(&**s);
            *s = Arc::clone(&empty);
            self.free.push(sym as u32);
            freed += 1;
        }
        freed
    }

    /// Heap bytes: string bytes, `Arc` headers, map and vector slots.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let strings: usize = self.strings.iter().map(|s| s.len() + 16).sum();
        strings + self.strings.capacity() * 16 + self.by_string.capacity() * (16 + 4 + 4 + 1)
    }
}
