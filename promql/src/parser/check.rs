//! Type checking of a parsed tree (upstream `promql/parser/parse.go` `checkAST`): the same
//! checks in the same order, each error at the position Prometheus gives it, so that the first
//! error is the one Prometheus reports. It runs only on a tree that parsed without error.

use super::ast::{Kind, Node, ValueType};
use super::error::{ParseError, position};
use super::lex::Item;
use super::quote::quote;

pub(crate) struct Checker<'a> {
    input: &'a str,
    pub(crate) errors: Vec<ParseError>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(input: &'a str) -> Checker<'a> {
        Checker { input, errors: Vec::new() }
    }

    fn error_at(&mut self, offset: usize, message: String) {
        self.errors.push(ParseError { position: Some(position(self.input, offset)), message });
    }

    /// The operator of a binary expression: the first non-space byte after the left operand.
    fn operator_position(&self, lhs: &Node) -> usize {
        let bytes = self.input.as_bytes();
        let mut at = lhs.end;
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        at
    }

    fn expect_type(&mut self, node: &Node, want: ValueType, context: &str) {
        let got = self.check(node);
        if got != want {
            self.error_at(
                node.start,
                format!("expected type {} in {context}, got {}", want.documented(), got.documented()),
            );
        }
    }

    /// Checks `node` and everything under it; its type.
    pub(crate) fn check(&mut self, node: &Node) -> ValueType {
        let typ = node.value_type();
        match &node.kind {
            Kind::Aggregate { op, param, expr, .. } => {
                if let Some(expr) = expr {
                    self.expect_type(expr, ValueType::Vector, "aggregation expression");
                }
                let param_type = match op {
                    Item::Topk | Item::Bottomk | Item::Quantile | Item::Limitk | Item::LimitRatio => {
                        Some(ValueType::Scalar)
                    }
                    Item::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(param)) = (param_type, param) {
                    self.expect_type(param, want, "aggregation parameter");
                }
            }
            Kind::Binary { op, lhs, rhs, modifiers } => {
                let lt = self.check(lhs);
                let rt = self.check(rhs);
                if modifiers.return_bool && !op.is_comparison() {
                    let at = self.operator_position(lhs);
                    self.error_at(at, "bool modifier can only be used on comparison operators".to_owned());
                }
                if op.is_comparison()
                    && !modifiers.return_bool
                    && rhs.value_type() == ValueType::Scalar
                    && lhs.value_type() == ValueType::Scalar
                {
                    let at = self.operator_position(lhs);
                    self.error_at(at, "comparisons between scalars must use BOOL modifier".to_owned());
                }
                if let (Some((true, on)), Some((_, include))) = (&modifiers.matching, &modifiers.group) {
                    for label in on {
                        if include.contains(label) {
                            let at = self.operator_position(lhs);
                            self.error_at(
                                at,
                                format!("label {} must not occur in ON and GROUP clause at once", quote(label)),
                            );
                        }
                    }
                }
                let operands_ok = |t: ValueType| matches!(t, ValueType::Scalar | ValueType::Vector);
                if !operands_ok(lt) {
                    self.error_at(
                        lhs.start,
                        "binary expression must contain only scalar and instant vector types".to_owned(),
                    );
                }
                if !operands_ok(rt) {
                    self.error_at(
                        rhs.start,
                        "binary expression must contain only scalar and instant vector types".to_owned(),
                    );
                }
                let name = op_name(*op);
                if lt != ValueType::Vector || rt != ValueType::Vector {
                    if modifiers.matching.as_ref().is_some_and(|(_, labels)| !labels.is_empty()) {
                        self.error_at(node.start, "vector matching only allowed between instant vectors".to_owned());
                    }
                } else if op.is_set_operator() && modifiers.group.is_some() {
                    self.error_at(node.start, format!("no grouping allowed for {} operation", quote(name)));
                    self.error_at(node.start, "set operations must always be many-to-many".to_owned());
                }
                if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set_operator() {
                    self.error_at(
                        node.start,
                        format!("set operator {} not allowed in binary scalar expression", quote(name)),
                    );
                }
            }
            Kind::Call { function, args } => {
                let nargs = function.arg_types.len();
                let name = quote(function.name);
                if function.variadic == 0 {
                    if nargs != args.len() {
                        self.error_at(
                            node.start,
                            format!("expected {nargs} argument(s) in call to {name}, got {}", args.len()),
                        );
                    }
                } else {
                    let required = nargs - 1;
                    if required > args.len() {
                        self.error_at(
                            node.start,
                            format!("expected at least {required} argument(s) in call to {name}, got {}", args.len()),
                        );
                    } else if function.variadic > 0 && required + (function.variadic as usize) < args.len() {
                        self.error_at(
                            node.start,
                            format!(
                                "expected at most {} argument(s) in call to {name}, got {}",
                                required + function.variadic as usize,
                                args.len()
                            ),
                        );
                    }
                }
                let mut info_selector = false;
                if function.name == "info" && args.len() > 1 {
                    // info()'s second argument selects info series by labels only, so it may
                    // match the empty string everywhere (upstream's special case).
                    let labels = &args[1];
                    if labels.value_type() != ValueType::Vector {
                        self.error_at(
                            node.start,
                            format!(
                                "expected type instant vector in call to function \"info\", got {}",
                                labels.value_type().documented()
                            ),
                        );
                    }
                    match &labels.kind {
                        Kind::Selector(s) if s.name.is_some() => self.error_at(
                            labels.start,
                            "expected label selectors only, got vector selector instead".to_owned(),
                        ),
                        Kind::Selector(_) => info_selector = true,
                        _ => self.error_at(labels.start, "expected label selectors only".to_owned()),
                    }
                }
                for (i, arg) in args.iter().enumerate() {
                    if i == 1 && info_selector {
                        continue;
                    }
                    let index = if i < nargs {
                        i
                    } else if function.variadic == 0 || nargs == 0 {
                        // Extra arguments of a function that takes a fixed number: not checked.
                        break;
                    } else {
                        nargs - 1
                    };
                    let want = function.arg_types[index];
                    let got = self.check(arg);
                    if got != want {
                        self.error_at(
                            arg.start,
                            format!(
                                "expected type {} in call to function {name}, got {}",
                                want.documented(),
                                got.documented()
                            ),
                        );
                    }
                }
            }
            Kind::Paren(inner) => {
                self.check(inner);
            }
            Kind::Unary { expr, .. } => {
                let t = self.check(expr);
                if !matches!(t, ValueType::Scalar | ValueType::Vector) {
                    self.error_at(
                        node.start,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            quote(t.documented())
                        ),
                    );
                }
            }
            Kind::Subquery { expr, .. } => {
                let t = self.check(expr);
                if t != ValueType::Vector {
                    self.error_at(
                        node.start,
                        format!("subquery is only allowed on instant vector, got {} instead", t.name()),
                    );
                }
            }
            Kind::Matrix { selector, .. } => {
                self.check(selector);
            }
            Kind::Selector(selector) => {
                if selector.name.is_some() {
                    for matcher in &selector.matchers {
                        if matcher.name == "__name__" {
                            self.error_at(
                                node.start,
                                format!(
                                    "metric name must not be set twice: {} or {}",
                                    quote(selector.name.as_deref().unwrap_or("")),
                                    quote(&matcher.value)
                                ),
                            );
                        }
                    }
                } else if selector.matchers.iter().all(|m| m.matches_empty()) {
                    self.error_at(node.start, "vector selector must contain at least one non-empty matcher".to_owned());
                }
            }
            Kind::Number(_) | Kind::String(_) => {}
        }
        typ
    }
}

/// An operator as upstream's `ItemType.String` names it.
fn op_name(op: Item) -> &'static str {
    match op {
        Item::Land => "and",
        Item::Lor => "or",
        Item::Lunless => "unless",
        _ => "",
    }
}
