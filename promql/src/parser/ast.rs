//! The syntax tree the parser builds before type checking (upstream `promql/parser/ast.go`):
//! Prometheus's node kinds, each with the byte range Prometheus gives it, because its error
//! messages name the start of a node (and, for operators, the end of the left operand). Only
//! once it type-checks is a tree turned into promql-parser's `Expr` (`lower.rs`), which the
//! engine evaluates and the API prints.

use super::lex::Item;

/// A value type as Prometheus's messages name them (`DocumentedType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// Upstream `DocumentedType`.
    pub(crate) fn documented(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// Upstream `ValueType` as `%s` prints it (the subquery message uses this).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

/// A matcher inside braces, as written (the value unquoted).
#[derive(Debug, Clone)]
pub(crate) struct LabelMatcher {
    pub(crate) name: String,
    pub(crate) op: Item,
    pub(crate) value: String,
}

impl LabelMatcher {
    /// Whether the matcher accepts the empty string; a regex matcher that failed to compile
    /// (already an error) counts as matching it.
    pub(crate) fn matches_empty(&self) -> bool {
        match self.op {
            Item::Eql => self.value.is_empty(),
            Item::Neq => !self.value.is_empty(),
            Item::EqlRegex | Item::NeqRegex => {
                let matches = promlite_storage::compile_anchored(&self.value).map(|re| re.is_match("")).unwrap_or(true);
                if self.op == Item::EqlRegex { matches } else { !matches }
            }
            _ => true,
        }
    }
}

/// The `@` of a selector or subquery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum At {
    /// `@ <seconds>`, in milliseconds.
    Time(i64),
    Start,
    End,
}

/// An instant vector selector.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    /// The metric name written outside the braces.
    pub(crate) name: Option<String>,
    pub(crate) matchers: Vec<LabelMatcher>,
    /// Offset in nanoseconds (Go's `time.Duration`), positive into the past; `None` when not
    /// written.
    pub(crate) offset: Option<i64>,
    pub(crate) at: Option<At>,
}

/// The grouping of an aggregation: `by (...)` or `without (...)`.
#[derive(Debug, Clone)]
pub(crate) struct Grouping {
    pub(crate) without: bool,
    pub(crate) labels: Vec<String>,
}

/// The `bool`, `on`/`ignoring` and `group_left`/`group_right` of a binary operator.
#[derive(Debug, Clone, Default)]
pub(crate) struct BinModifiers {
    pub(crate) return_bool: bool,
    /// `Some((on, labels))` when `on(...)` or `ignoring(...)` was written.
    pub(crate) matching: Option<(bool, Vec<String>)>,
    /// `Some((left, labels))` for `group_left(...)` / `group_right(...)`.
    pub(crate) group: Option<(bool, Vec<String>)>,
    /// Whether a `fill` modifier was written (refused: experimental upstream).
    pub(crate) fill: bool,
}

/// A node of the tree.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Number(f64),
    String(String),
    Selector(Selector),
    /// A range selector: the selector node (any node when invalid) and the range in ns.
    Matrix {
        selector: Box<Node>,
        range_ns: u64,
    },
    /// Range and step in ns, offset in ns as for selectors.
    Subquery {
        expr: Box<Node>,
        range_ns: u64,
        step_ns: Option<u64>,
        offset: Option<i64>,
        at: Option<At>,
    },
    Paren(Box<Node>),
    Unary {
        negative: bool,
        expr: Box<Node>,
    },
    Binary {
        op: Item,
        lhs: Box<Node>,
        rhs: Box<Node>,
        modifiers: BinModifiers,
    },
    Call {
        function: &'static super::functions::Function,
        args: Vec<Node>,
    },
    Aggregate {
        op: Item,
        grouping: Option<Grouping>,
        param: Option<Box<Node>>,
        expr: Option<Box<Node>>,
    },
}

/// A node and the bytes of the query it spans, `start..end`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Node {
    /// Upstream `Expr.Type`.
    pub(crate) fn value_type(&self) -> ValueType {
        match &self.kind {
            Kind::Number(_) => ValueType::Scalar,
            Kind::String(_) => ValueType::String,
            Kind::Selector(_) | Kind::Aggregate { .. } => ValueType::Vector,
            Kind::Matrix { .. } | Kind::Subquery { .. } => ValueType::Matrix,
            Kind::Paren(inner) | Kind::Unary { expr: inner, .. } => inner.value_type(),
            Kind::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Kind::Call { function, .. } => function.return_type,
        }
    }
}
