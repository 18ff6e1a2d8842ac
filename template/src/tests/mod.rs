//! Tests across modules: upstream's cases as a table, and Go text/template semantics.

mod semantics;
mod upstream;
