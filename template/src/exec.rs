//! The executor: walks a parsed template set against data and writes text, with Go
//! text/template's semantics (variable scoping, `range`/`with`/`if`, pipelines passing the
//! previous result as the last argument, field and method lookup, argument type checks).
//!
//! Invariant: the "current node" moves exactly where Go's `state.at` moves it, because an error
//! reports that node's position and text (`test:1:10: executing "test" at <"missing">: ...`),
//! and Go sometimes blames an argument evaluated earlier rather than the failing field.

use crate::error::{ExecError, Location};
use crate::funcs::{self, Callable, Env, Param};
use crate::gofmt;
use crate::node::{Arg, At, Branch, Command, List, Node, Number, Pipe, Variable};
use crate::parse::Set;
use crate::value::{IntTy, ListTy, Value};

/// Go's `missingkey` option: what a missing map key yields.
#[cfg_attr(not(test), expect(dead_code, reason = "Prometheus always uses missingkey=zero; tests check the others"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MissingKey {
    /// `<no value>`.
    Default,
    /// The map element type's zero value (`""` for labels); Prometheus's choice.
    Zero,
    /// An execution error.
    Error,
}

/// How deep `{{template}}` calls and `if`/`range`/`with` bodies may nest, together. Go counts
/// only template calls, up to 100000; we recurse on the native stack (see `parse::MAX_DEPTH`).
const MAX_EXEC_DEPTH: usize = crate::parse::MAX_DEPTH;

/// Why a walk stopped early.
enum Flow {
    Err(ExecError),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

/// Runs the top-level template of `set` with `data` as dot.
pub(crate) fn execute(set: &Set, env: &Env<'_>, missing_key: MissingKey, data: Value) -> Result<String, ExecError> {
    let mut state = State {
        set,
        env,
        missing_key,
        template: set.parse_name.clone(),
        node: None,
        vars: vec![("$".to_owned(), data.clone())],
        depth: 0,
        out: String::new(),
    };
    let Some(tree) = set.trees.get(&set.parse_name) else {
        return Err(state.error(format!("{} is an incomplete or empty template", gofmt::quote(&set.parse_name))));
    };
    match state.walk_list(&data, &tree.root) {
        Ok(()) => Ok(state.out),
        Err(Flow::Err(e)) => Err(e),
        // The parser rejects break/continue outside range.
        Err(Flow::Break | Flow::Continue) => Ok(state.out),
    }
}

struct State<'a> {
    set: &'a Set,
    env: &'a Env<'a>,
    missing_key: MissingKey,
    template: String,
    node: Option<At<'a>>,
    vars: Vec<(String, Value)>,
    depth: usize,
    out: String,
}

impl<'a> State<'a> {
    fn at(&mut self, at: At<'a>) {
        self.node = Some(at);
    }

    fn error(&self, message: String) -> ExecError {
        let Some(node) = self.node else {
            return ExecError { location: None, template: self.template.clone(), context: String::new(), message };
        };
        let pos = node.pos().min(self.set.text.len());
        let before = &self.set.text[..pos];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        ExecError {
            location: Some(Location { name: self.set.parse_name.clone(), line, col }),
            template: self.template.clone(),
            context: node.to_string(),
            message,
        }
    }

    fn fail<T>(&self, message: String) -> R<T> {
        Err(Flow::Err(self.error(message)))
    }

    fn var_value(&self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn set_var(&mut self, name: &str, value: Value) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Value) {
        let len = self.vars.len();
        self.vars[len - n].1 = value;
    }

    fn walk_list(&mut self, dot: &Value, list: &'a List) -> R<()> {
        self.at(At::List(list));
        list.nodes.iter().try_for_each(|n| self.walk(dot, n))
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        self.at(At::Node(node));
        match node {
            Node::Text { text, .. } => self.out.push_str(text),
            Node::Action { pipe, .. } => {
                // Variables declared here live until the enclosing {{end}}.
                let value = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    self.out.push_str(&gofmt::print_action_value(&value));
                }
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b)?,
            Node::With(b) => self.walk_if_or_with(true, dot, b)?,
            Node::Range(b) => self.walk_range(dot, node, b)?,
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref())?,
            Node::Break { .. } => return Err(Flow::Break),
            Node::Continue { .. } => return Err(Flow::Continue),
        }
        Ok(())
    }

    /// Runs `body` one nesting level deeper, or fails past the limit.
    fn nested<T>(&mut self, body: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        if self.depth == MAX_EXEC_DEPTH {
            return self.fail(format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})"));
        }
        self.depth += 1;
        let result = body(self);
        self.depth -= 1;
        result
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'a Branch) -> R<()> {
        self.nested(|s| s.walk_if_or_with_body(with, dot, b))
    }

    fn walk_if_or_with_body(&mut self, with: bool, dot: &Value, b: &'a Branch) -> R<()> {
        let mark = self.vars.len();
        let result = (|| {
            let value = self.eval_pipeline(dot, Some(&b.pipe))?;
            if value.is_true() {
                self.walk_list(if with { &value } else { dot }, &b.list)
            } else if let Some(else_list) = &b.else_list {
                self.walk_list(dot, else_list)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, r: &'a Branch) -> R<()> {
        self.at(At::Node(node));
        let mark = self.vars.len();
        let result = self.nested(|s| s.walk_range_body(dot, r));
        self.vars.truncate(mark);
        result
    }

    fn walk_range_body(&mut self, dot: &Value, r: &'a Branch) -> R<()> {
        let value = self.eval_pipeline(dot, Some(&r.pipe))?.indirect();
        let mark = self.vars.len();
        let ran = match &value {
            Value::List(l) if !l.items.is_empty() => {
                for (i, item) in l.items.iter().enumerate() {
                    if !self.one_iteration(r, mark, Value::int(i as i64), item.clone())? {
                        break;
                    }
                }
                true
            }
            Value::Map(m) if !m.entries.is_empty() => {
                // Go ranges over maps in sorted key order; BTreeMap keeps that order.
                for (k, v) in &m.entries {
                    if !self.one_iteration(r, mark, Value::string(k), v.clone())? {
                        break;
                    }
                }
                true
            }
            Value::Int(..) | Value::Uint(..) => {
                if r.pipe.decl.len() > 1 {
                    let shown = gofmt::sprint(std::slice::from_ref(&value));
                    return self.fail(format!("can't use {shown} to iterate over more than one variable"));
                }
                let items: Vec<Value> = match value {
                    Value::Int(n, ty) => (0..n.max(0)).map(|i| Value::Int(i, ty)).collect(),
                    Value::Uint(n, ty) => (0..n).map(|i| Value::Uint(i, ty)).collect(),
                    _ => Vec::new(),
                };
                for item in &items {
                    if !self.one_iteration(r, mark, Value::Nil, item.clone())? {
                        break;
                    }
                }
                !items.is_empty()
            }
            Value::List(_) | Value::Map(_) | Value::Nil => false,
            other => {
                let shown = gofmt::sprint(std::slice::from_ref(other));
                return self.fail(format!("range can't iterate over {shown}"));
            }
        };
        if !ran && let Some(else_list) = &r.else_list {
            self.walk_list(dot, else_list)?;
        }
        Ok(())
    }

    /// One pass of a range body; `false` means `{{break}}`.
    fn one_iteration(&mut self, r: &'a Branch, mark: usize, index: Value, elem: Value) -> R<bool> {
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                let first = if decl.len() > 1 { index.clone() } else { elem.clone() };
                self.set_var(&decl[0].idents[0], first)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1].idents[0], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let result = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        match result {
            Ok(()) | Err(Flow::Continue) => Ok(true),
            Err(Flow::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn walk_template(&mut self, dot: &Value, node: &'a Node, name: &str, pipe: Option<&'a Pipe>) -> R<()> {
        self.at(At::Node(node));
        let Some(tree) = self.set.trees.get(name) else {
            return self.fail(format!("template {} not defined", gofmt::quote(name)));
        };
        // Variables declared by the pipeline persist in the caller.
        let dot = self.eval_pipeline(dot, pipe)?;
        // No dynamic scoping: the called template sees only `$`.
        let vars = std::mem::replace(&mut self.vars, vec![("$".to_owned(), dot.clone())]);
        let template = std::mem::replace(&mut self.template, name.to_owned());
        let result = self.nested(|s| s.walk_list(&dot, &tree.root));
        self.template = template;
        self.vars = vars;
        result
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: Option<&'a Pipe>) -> R<Value> {
        let Some(pipe) = pipe else { return Ok(Value::Nil) };
        self.at(At::Pipe(pipe));
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&v.idents[0], value.clone())?;
            } else {
                self.vars.push((v.idents[0].clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], last: &Option<Value>) -> R<()> {
        if args.len() > 1 || last.is_some() {
            return self.fail(format!("can't give argument to non-function {}", args[0]));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, last: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { .. } => return self.eval_field_node(dot, first, &cmd.args, last),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, &cmd.args, last),
            Arg::Identifier { .. } => return self.eval_function(dot, first, At::Command(cmd), &cmd.args, last),
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &last)?;
                return self.eval_pipeline(dot, Some(p));
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, v, first, &cmd.args, last),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &last)?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.fail("nil is not a command".into()),
            Arg::Number { number, .. } => self.ideal_constant(first, number),
            Arg::String { text, .. } => Ok(Value::string(text)),
            _ => self.fail(format!("can't evaluate command {}", gofmt::quote(&first.to_string()))),
        }
    }

    /// A number literal where no type is expected: Go picks float64 if it is written like a
    /// float, else int.
    fn ideal_constant(&mut self, node: &'a Arg, n: &Number) -> R<Value> {
        self.at(At::Arg(node));
        let hex_int = n.text.len() > 2
            && n.text.starts_with("0")
            && n.text[1..].starts_with(['x', 'X'])
            && !n.text.contains(['p', 'P']);
        let rune = n.text.starts_with('\'');
        if let Some(f) = n.float.filter(|_| !hex_int && !rune && n.text.contains(['.', 'e', 'E', 'p', 'P'])) {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::int(i));
        }
        if n.uint.is_some() {
            return self.fail(format!("{} overflows int", n.text));
        }
        Ok(Value::Nil)
    }

    fn eval_field_node(&mut self, dot: &Value, field: &'a Arg, args: &'a [Arg], last: Option<Value>) -> R<Value> {
        self.at(At::Arg(field));
        let Arg::Field { idents, .. } = field else { unreachable!("eval_field_node on a non-field") };
        self.eval_field_chain(dot, dot.clone(), At::Arg(field), idents, args, last)
    }

    fn eval_chain_node(&mut self, dot: &Value, chain: &'a Arg, args: &'a [Arg], last: Option<Value>) -> R<Value> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else { unreachable!("eval_chain_node on a non-chain") };
        if let Arg::Nil { .. } = node.as_ref() {
            return self.fail(format!("indirection through explicit nil in {chain}"));
        }
        let receiver = self.eval_arg(dot, Param::Any, node)?;
        self.eval_field_chain(dot, receiver, At::Arg(chain), fields, args, last)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value,
        v: &'a Variable,
        node: &'a Arg,
        args: &'a [Arg],
        last: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(node));
        let value = self.var_value(&v.idents[0])?;
        if v.idents.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, &last)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, At::Arg(node), &v.idents[1..], args, last)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: At<'a>,
        idents: &[String],
        args: &'a [Arg],
        last: Option<Value>,
    ) -> R<Value> {
        let (final_ident, leading) = idents.split_last().expect("a field chain has a field");
        for ident in leading {
            receiver = self.eval_field(dot, ident, node, &[], None, receiver)?;
        }
        self.eval_field(dot, final_ident, node, args, last, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        last: Option<Value>,
        receiver: Value,
    ) -> R<Value> {
        if let Value::Nil = receiver {
            if self.missing_key == MissingKey::Error {
                return self.fail(format!("nil data; no entry for key {}", gofmt::quote(name)));
            }
            return Ok(Value::Nil);
        }
        if funcs::method_signature(&receiver, name).is_some() {
            return self.eval_call(dot, Callable::Method(receiver), node, name, args, last);
        }
        let has_args = args.len() > 1 || last.is_some();
        let field = match &receiver {
            Value::Map(m) => {
                if has_args {
                    return self.fail(format!("{name} is not a method but has arguments"));
                }
                return match m.entries.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => match self.missing_key {
                        MissingKey::Default => Ok(Value::Nil),
                        MissingKey::Zero => Ok(m.zero()),
                        MissingKey::Error => self.fail(format!("map has no entry for key {}", gofmt::quote(name))),
                    },
                };
            }
            Value::Sample(s) => match name {
                "Labels" => Some(Value::Map(s.labels.clone())),
                "Value" => Some(s.value.clone()),
                _ => None,
            },
            Value::AlertData(d) => match name {
                "Labels" => Some(d.labels.clone()),
                "ExternalLabels" => Some(d.external_labels.clone()),
                "ExternalURL" => Some(d.external_url.clone()),
                "Value" => Some(d.value.clone()),
                _ => None,
            },
            Value::Histogram(h) => match name {
                "Count" => Some(Value::Float(h.count)),
                "Sum" => Some(Value::Float(h.sum)),
                _ => None,
            },
            _ => None,
        };
        match field {
            Some(_) if has_args => self.fail(format!("{name} has arguments but cannot be invoked as function")),
            Some(v) => Ok(v),
            None => self.fail(format!("can't evaluate field {name} in type {}", receiver.type_name())),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &'a Arg,
        cmd: At<'a>,
        args: &'a [Arg],
        last: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(ident));
        let Arg::Identifier { name, .. } = ident else { unreachable!("eval_function on a non-identifier") };
        if funcs::signature(name).is_none() {
            return self.fail(format!("{} is not a defined function", gofmt::quote(name)));
        }
        self.eval_call(dot, Callable::Func, cmd, name, args, last)
    }

    fn eval_call(
        &mut self,
        dot: &Value,
        fun: Callable,
        node: At<'a>,
        name: &str,
        args: &'a [Arg],
        last: Option<Value>,
    ) -> R<Value> {
        // The first word is the function or method itself.
        let args = if args.is_empty() { args } else { &args[1..] };
        let sig = match &fun {
            Callable::Func => funcs::signature(name),
            Callable::Method(receiver) => funcs::method_signature(receiver, name),
        }
        .expect("callers check that the function exists");
        let num_in = args.len() + usize::from(last.is_some());
        let num_fixed = if sig.variadic.is_some() {
            if num_in < sig.params.len() {
                return self.fail(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    sig.params.len(),
                    args.len()
                ));
            }
            sig.params.len()
        } else {
            if num_in != sig.params.len() {
                return self.fail(format!("wrong number of args for {name}: want {} got {num_in}", sig.params.len()));
            }
            args.len()
        };
        if matches!(fun, Callable::Func) && (name == "and" || name == "or") {
            // and/or short-circuit: later arguments are not evaluated.
            let mut value = Value::Nil;
            for arg in args {
                value = self.eval_arg(dot, Param::Reflect, arg)?;
                if value.is_true() == (name == "or") {
                    return Ok(value);
                }
            }
            return Ok(last.unwrap_or(value));
        }
        let mut argv = Vec::with_capacity(num_in);
        for (arg, param) in args.iter().zip(sig.params).take(num_fixed) {
            argv.push(self.eval_arg(dot, *param, arg)?);
        }
        if let Some(variadic) = sig.variadic {
            for arg in &args[argv.len()..] {
                argv.push(self.eval_arg(dot, variadic, arg)?);
            }
        }
        if let Some(last) = last {
            let param = match sig.variadic {
                Some(v) if num_in > num_fixed => v,
                _ => sig.params[num_in - 1],
            };
            argv.push(self.validate(last, param)?);
        }
        let result = match fun {
            Callable::Func => funcs::call(self.env, name, argv),
            Callable::Method(receiver) => funcs::call_method(&receiver, name, argv),
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(node);
                self.fail(format!("error calling {name}: {e}"))
            }
        }
    }

    /// Checks that a computed value fits a parameter, following one pointer if needed.
    fn validate(&self, value: Value, param: Param) -> R<Value> {
        if let Value::Nil = value {
            return match param.zero() {
                Some(zero) => Ok(zero),
                None => self.fail(format!("invalid value; expected {}", param.go_name())),
            };
        }
        let fits = match (param, &value) {
            (Param::Any | Param::Reflect, _) => true,
            (Param::String, Value::String(_)) => true,
            (Param::QueryResult, Value::List(l)) => l.ty == ListTy::QueryResult,
            (Param::SamplePtr, Value::Sample(_)) => true,
            (Param::Duration, Value::Int(_, IntTy::Duration)) => true,
            (Param::Time, Value::Time(_)) => true,
            (Param::Int, Value::Int(_, IntTy::Int)) => true,
            (Param::Duration, Value::DurationPtr(d)) => return Ok(Value::Int(*d, IntTy::Duration)),
            (Param::Time, Value::TimePtr(t)) => return Ok(Value::Time(*t)),
            _ => false,
        };
        if fits {
            return Ok(value);
        }
        self.fail(format!("wrong type for value; expected {}; got {}", param.go_name(), value.type_name()))
    }

    fn eval_arg(&mut self, dot: &Value, param: Param, n: &'a Arg) -> R<Value> {
        self.at(At::Arg(n));
        let value = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match param.zero() {
                    Some(zero) => Ok(zero),
                    None => self.fail(format!("cannot assign nil to {}", param.go_name())),
                };
            }
            Arg::Field { .. } => self.eval_field_node(dot, n, std::slice::from_ref(n), None)?,
            Arg::Variable(v) => self.eval_variable_node(dot, v, n, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, Some(p))?,
            Arg::Identifier { .. } => self.eval_function(dot, n, At::Arg(n), &[], None)?,
            Arg::Chain { .. } => self.eval_chain_node(dot, n, &[], None)?,
            Arg::Bool { value, .. } => match param {
                Param::Any | Param::Reflect => return Ok(Value::Bool(*value)),
                _ => return self.literal_mismatch(n, param),
            },
            Arg::Number { number, .. } => match param {
                Param::Any | Param::Reflect => return self.ideal_constant(n, number),
                Param::Int | Param::Duration => {
                    let ty = if param == Param::Int { IntTy::Int } else { IntTy::Duration };
                    return match number.int {
                        Some(i) => Ok(Value::Int(i, ty)),
                        None => self.fail(format!("expected integer; found {n}")),
                    };
                }
                _ => return self.literal_mismatch(n, param),
            },
            Arg::String { text, .. } => match param {
                Param::Any | Param::Reflect | Param::String => return Ok(Value::string(text)),
                _ => return self.literal_mismatch(n, param),
            },
        };
        self.validate(value, param)
    }

    /// A literal argument of the wrong kind for its parameter, in Go's words.
    fn literal_mismatch<T>(&self, n: &Arg, param: Param) -> R<T> {
        match param {
            Param::String => self.fail(format!("expected string; found {n}")),
            Param::Int | Param::Duration => self.fail(format!("expected integer; found {n}")),
            _ => self.fail(format!("can't handle {n} for arg of type {}", param.go_name())),
        }
    }
}
