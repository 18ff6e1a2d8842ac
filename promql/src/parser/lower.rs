//! A checked tree as promql-parser's `Expr`, the tree the engine evaluates and the API prints
//! (`format_query`, `parse_query`). Shapes follow what promql-parser's own parser builds: a
//! sign folded into number literals, `+x` as `x`, the metric name apart from the matchers,
//! set operators many-to-many, no modifier where none was written.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::label::{Labels, MatchOp, Matcher, Matchers};
use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{
    AggregateExpr, AtModifier, BinModifier, BinaryExpr, Call, Expr, FunctionArgs, LabelModifier, MatrixSelector,
    NumberLiteral, Offset, ParenExpr, StringLiteral, SubqueryExpr, UnaryExpr, VectorMatchCardinality, VectorSelector,
};

use super::ast::{At, Kind, Node, Selector};
use super::functions::crate_function;
use super::lex::Item;
use crate::error::QueryError;

/// promql-parser's tree for `node`. Fails only where a regex Go accepts does not compile for
/// storage, or for the operators promlite does not evaluate.
pub(crate) fn lower(node: &Node) -> Result<Expr, QueryError> {
    Ok(match &node.kind {
        Kind::Number(val) => Expr::NumberLiteral(NumberLiteral { val: *val }),
        Kind::String(val) => Expr::StringLiteral(StringLiteral { val: val.clone() }),
        Kind::Selector(selector) => Expr::VectorSelector(vector_selector(selector)?),
        Kind::Matrix { selector, range_ns } => {
            let Kind::Selector(selector) = &selector.kind else {
                return Err(QueryError::BadData("ranges only allowed for vector selectors".to_owned()));
            };
            Expr::MatrixSelector(MatrixSelector {
                vs: vector_selector(selector)?,
                range: Duration::from_nanos(*range_ns),
            })
        }
        Kind::Subquery { expr, range_ns, step_ns, offset, at } => Expr::Subquery(SubqueryExpr {
            expr: Box::new(lower(expr)?),
            offset: offset.and_then(offset_of),
            at: at.map(at_of),
            range: Duration::from_nanos(*range_ns),
            step: step_ns.map(Duration::from_nanos),
        }),
        Kind::Paren(inner) => Expr::Paren(ParenExpr { expr: Box::new(lower(inner)?) }),
        Kind::Unary { negative: true, expr } => Expr::Unary(UnaryExpr { expr: Box::new(lower(expr)?) }),
        Kind::Unary { negative: false, expr } => lower(expr)?,
        Kind::Binary { op, lhs, rhs, modifiers } => {
            let op = binary_token(*op)?;
            let mut modifier = None;
            if modifiers.return_bool || modifiers.matching.is_some() {
                let matching = modifiers.matching.as_ref().map(|(on, labels)| {
                    let labels = Labels::new(labels.iter().map(String::as_str).collect());
                    if *on { LabelModifier::Include(labels) } else { LabelModifier::Exclude(labels) }
                });
                let card = match &modifiers.group {
                    None => VectorMatchCardinality::OneToOne,
                    Some((left, labels)) => {
                        let labels = Labels::new(labels.iter().map(String::as_str).collect());
                        if *left {
                            VectorMatchCardinality::ManyToOne(labels)
                        } else {
                            VectorMatchCardinality::OneToMany(labels)
                        }
                    }
                };
                modifier = Some(
                    BinModifier::default()
                        .with_return_bool(modifiers.return_bool)
                        .with_matching(matching)
                        .with_card(card),
                );
            }
            if TokenType::new(op).is_set_operator() {
                let modifier = modifier.get_or_insert_with(BinModifier::default);
                if modifier.card == VectorMatchCardinality::OneToOne {
                    modifier.card = VectorMatchCardinality::ManyToMany;
                }
            }
            Expr::Binary(BinaryExpr {
                op: TokenType::new(op),
                lhs: Box::new(lower(lhs)?),
                rhs: Box::new(lower(rhs)?),
                modifier,
            })
        }
        Kind::Call { function, args } => Expr::Call(Call {
            func: crate_function(function),
            args: FunctionArgs { args: args.iter().map(|a| lower(a).map(Box::new)).collect::<Result<_, _>>()? },
        }),
        Kind::Aggregate { op, grouping, param, expr } => {
            let expr =
                expr.as_ref().ok_or_else(|| QueryError::BadData("aggregation without an argument".to_owned()))?;
            Expr::Aggregate(AggregateExpr {
                op: TokenType::new(aggregator_token(*op)),
                expr: Box::new(lower(expr)?),
                param: param.as_ref().map(|p| lower(p).map(Box::new)).transpose()?,
                modifier: grouping.as_ref().map(|g| {
                    let labels = Labels::new(g.labels.iter().map(String::as_str).collect());
                    if g.without { LabelModifier::Exclude(labels) } else { LabelModifier::Include(labels) }
                }),
            })
        }
    })
}

fn vector_selector(selector: &Selector) -> Result<VectorSelector, QueryError> {
    let mut matchers = Vec::with_capacity(selector.matchers.len());
    for m in &selector.matchers {
        let op = match m.op {
            Item::Eql => MatchOp::Equal,
            Item::Neq => MatchOp::NotEqual,
            Item::EqlRegex | Item::NeqRegex => {
                // Storage compiles the regex again with Go's meaning of `\d`, `.` and the like;
                // promql-parser's copy only has to exist.
                let re = promlite_storage::compile_anchored(&m.value).map_err(|err| {
                    QueryError::Parse(super::error::ParseError::new(format!("error parsing regexp: {}", err.reason)))
                })?;
                if m.op == Item::EqlRegex { MatchOp::Re(re) } else { MatchOp::NotRe(re) }
            }
            _ => MatchOp::Equal,
        };
        matchers.push(Matcher::new(op, &m.name, &m.value));
    }
    Ok(VectorSelector {
        name: selector.name.clone(),
        matchers: Matchers { matchers, or_matchers: Vec::new() },
        offset: selector.offset.and_then(offset_of),
        at: selector.at.map(at_of),
    })
}

/// An offset in ns as promql-parser holds it; a zero offset is none.
fn offset_of(ns: i64) -> Option<Offset> {
    match ns {
        0 => None,
        ns if ns > 0 => Some(Offset::Pos(Duration::from_nanos(ns as u64))),
        ns => Some(Offset::Neg(Duration::from_nanos(ns.unsigned_abs()))),
    }
}

fn at_of(at: At) -> AtModifier {
    match at {
        At::Start => AtModifier::Start,
        At::End => AtModifier::End,
        At::Time(ms) if ms >= 0 => AtModifier::At(UNIX_EPOCH + Duration::from_millis(ms as u64)),
        At::Time(ms) => AtModifier::At(
            UNIX_EPOCH.checked_sub(Duration::from_millis(ms.unsigned_abs())).unwrap_or(SystemTime::UNIX_EPOCH),
        ),
    }
}

fn binary_token(op: Item) -> Result<u16, QueryError> {
    Ok(match op {
        Item::Add => token::T_ADD,
        Item::Sub => token::T_SUB,
        Item::Mul => token::T_MUL,
        Item::Div => token::T_DIV,
        Item::Mod => token::T_MOD,
        Item::Pow => token::T_POW,
        Item::Atan2 => token::T_ATAN2,
        Item::Eqlc => token::T_EQLC,
        Item::Neq => token::T_NEQ,
        Item::Lte => token::T_LTE,
        Item::Lss => token::T_LSS,
        Item::Gte => token::T_GTE,
        Item::Gtr => token::T_GTR,
        Item::Land => token::T_LAND,
        Item::Lor => token::T_LOR,
        Item::Lunless => token::T_LUNLESS,
        _ => return Err(QueryError::NotSupported("the </ and >/ operators".to_owned())),
    })
}

fn aggregator_token(op: Item) -> u16 {
    match op {
        Item::Sum => token::T_SUM,
        Item::Avg => token::T_AVG,
        Item::Count => token::T_COUNT,
        Item::Min => token::T_MIN,
        Item::Max => token::T_MAX,
        Item::Group => token::T_GROUP,
        Item::Stddev => token::T_STDDEV,
        Item::Stdvar => token::T_STDVAR,
        Item::Topk => token::T_TOPK,
        Item::Bottomk => token::T_BOTTOMK,
        Item::CountValues => token::T_COUNT_VALUES,
        Item::Quantile => token::T_QUANTILE,
        Item::Limitk => token::T_LIMITK,
        _ => token::T_LIMIT_RATIO,
    }
}
