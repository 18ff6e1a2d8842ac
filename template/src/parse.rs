//! The parser: tokens to a set of named trees (the top-level template plus every `define` and
//! `block`), with Go text/template's grammar and error texts.
//!
//! Invariant: a parse error names the line of the last token read from the lexer (Go's
//! `t.token[0].line`), which is why the three-token look-ahead buffer works exactly like Go's:
//! `backup2`/`backup3` replay tokens without re-reading. `define` and `block` bodies are parsed
//! with a fresh buffer, variable scope and range depth, as Go's sub-trees are.

use std::collections::HashMap;

use crate::error::ParseError;
use crate::lex::{Kind, Token, lex};
use crate::node::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};

/// How deeply `if`/`range`/`with`/`block` and parenthesized pipelines may nest, together. Go
/// allows 10000 parentheses and any nesting of blocks (its stacks grow); the parser and the
/// executor recurse on the native stack, and this bound keeps a hostile template well inside
/// a 2 MiB thread stack even in debug builds (`tests::semantics::hostile_nesting...`).
pub(crate) const MAX_DEPTH: usize = 50;

/// One named template.
#[derive(Debug)]
pub(crate) struct Tree {
    pub root: List,
}

/// Everything one `parse` call produced.
#[derive(Debug)]
pub(crate) struct Set {
    /// The top-level template's name; error locations use it even inside `define`d templates.
    pub parse_name: String,
    /// The source text, for turning node positions into `line:col`.
    pub text: String,
    pub trees: HashMap<String, Tree>,
}

/// Parses `text` as the template `name`; `has_function` says which identifiers are functions.
pub(crate) fn parse(name: &str, text: &str, has_function: &dyn Fn(&str) -> bool) -> Result<Set, ParseError> {
    let empty = Token { kind: Kind::Eof, pos: 0, val: String::new(), line: 0 };
    let mut parser = Parser {
        parse_name: name,
        tokens: lex(text),
        next_token: 0,
        buf: Buffer { token: [empty.clone(), empty.clone(), empty], peek_count: 0 },
        vars: vec!["$".to_owned()],
        range_depth: 0,
        action_line: 0,
        depth: 0,
        trees: HashMap::new(),
        has_function,
        text_len: text.len(),
    };
    let root = parser.parse_top()?;
    parser.add(name, root)?;
    Ok(Set { parse_name: name.to_owned(), text: text.to_owned(), trees: parser.trees })
}

/// Go's `strconv.Unquote` for the string forms the lexer accepts.
pub(crate) fn unquote(quoted: &str) -> Option<String> {
    if let Some(raw) = quoted.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        // Go drops carriage returns from raw strings.
        return Some(raw.replace('\r', ""));
    }
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == '"' || c == '\n' {
                return None;
            }
            let mut b = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        unquote_escape(&mut chars, '"', &mut out)?;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Decodes one escape after its backslash, appending the bytes it stands for.
fn unquote_escape(chars: &mut std::str::Chars<'_>, quote: char, out: &mut Vec<u8>) -> Option<()> {
    let push = |out: &mut Vec<u8>, c: char| {
        let mut b = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    };
    let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v * 16 + chars.next()?.to_digit(16)?;
        }
        Some(v)
    };
    match chars.next()? {
        'a' => out.push(7),
        'b' => out.push(8),
        'f' => out.push(12),
        'n' => out.push(b'\n'),
        'r' => out.push(b'\r'),
        't' => out.push(b'\t'),
        'v' => out.push(11),
        '\\' => out.push(b'\\'),
        c if c == quote => push(out, c),
        'x' => out.push(hex(chars, 2)? as u8),
        'u' => push(out, char::from_u32(hex(chars, 4)?)?),
        'U' => push(out, char::from_u32(hex(chars, 8)?)?),
        d @ '0'..='7' => {
            let mut v = d.to_digit(8)?;
            for _ in 0..2 {
                v = v * 8 + chars.next()?.to_digit(8)?;
            }
            out.push(u8::try_from(v).ok()?);
        }
        _ => return None,
    }
    Some(())
}

/// Parses a number token as Go's parser does, or says why it is not one.
fn parse_number(text: &str, kind: Kind) -> Result<Number, String> {
    let mut number = Number { text: text.to_owned(), int: None, uint: None, float: None };
    if kind == Kind::CharConstant {
        let body = &text[1..];
        let mut chars = body.chars();
        let rune = match chars.next() {
            Some('\\') => {
                let mut out = Vec::new();
                unquote_escape(&mut chars, '\'', &mut out).ok_or("invalid syntax")?;
                let s = std::str::from_utf8(&out).map_err(|_| "invalid syntax")?;
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => c,
                    // A byte escape above 0x7f is one byte, not a UTF-8 sequence.
                    _ if out.len() == 1 => char::from(out[0]),
                    _ => return Err("invalid syntax".into()),
                }
            }
            Some(c) => c,
            None => return Err("invalid syntax".into()),
        };
        if chars.as_str() != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        number.int = Some(i64::from(u32::from(rune)));
        number.uint = Some(u64::from(u32::from(rune)));
        number.float = Some(f64::from(u32::from(rune)));
        return Ok(number);
    }
    if kind == Kind::Complex || text.ends_with('i') {
        return Err(format!("complex numbers are not supported: {text}"));
    }
    let parsed = go_int(text);
    if let Some(v) = parsed.filter(|v| *v >= 0 && *v <= i128::from(u64::MAX)) {
        number.uint = Some(v as u64);
    }
    if let Some(v) = parsed.filter(|v| *v >= i128::from(i64::MIN) && *v <= i128::from(i64::MAX)) {
        number.int = Some(v as i64);
        if v == 0 {
            number.uint = Some(0);
        }
    }
    if let Some(i) = number.int {
        number.float = Some(i as f64);
    } else if let Some(u) = number.uint {
        number.float = Some(u as f64);
    } else if let Some(f) = go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
        }
        number.float = Some(f);
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            number.int = Some(f as i64);
        }
        if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
            number.uint = Some(f as u64);
        }
    }
    if number.int.is_none() && number.uint.is_none() && number.float.is_none() {
        return Err(format!("illegal number syntax: {}", crate::gofmt::quote(text)));
    }
    Ok(number)
}

/// Go's `strconv.ParseInt(text, 0, 64)` syntax (base prefixes, `_` separators), unbounded.
fn go_int(text: &str) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') && !underscores_ok(&digits, prefixed) {
        return None;
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Underscores must sit between digits (or right after a base prefix).
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let b = digits.as_bytes();
    !b.ends_with(b"_") && !b.windows(2).any(|w| w == b"__") && (prefixed || !b.starts_with(b"_"))
}

/// Go's `strconv.ParseFloat(text, 64)` for the literal forms the lexer produces.
pub(crate) fn go_float(text: &str) -> Option<f64> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.as_bytes().first()? {
        b'-' => (true, &clean[1..]),
        b'+' => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        let (mantissa, exp) = hex.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut v = 0f64;
        for c in int.chars().chain(frac.chars()) {
            v = v * 16.0 + f64::from(c.to_digit(16)?);
        }
        v * 2f64.powi(exp - 4 * frac.len() as i32)
    } else {
        let v: f64 = lower.parse().ok()?;
        // Go reports overflow as an error; Rust returns infinity.
        if v.is_infinite() {
            return None;
        }
        v
    };
    Some(if neg { -v } else { v })
}

struct Buffer {
    token: [Token; 3],
    peek_count: usize,
}

/// What `item_list` stopped at.
enum Stop {
    End,
    Else { pos: usize },
}

struct Parser<'a> {
    parse_name: &'a str,
    tokens: Vec<Token>,
    next_token: usize,
    buf: Buffer,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    depth: usize,
    trees: HashMap<String, Tree>,
    has_function: &'a dyn Fn(&str) -> bool,
    text_len: usize,
}

type Parsed<T> = Result<T, ParseError>;

/// A statement, or the `{{end}}`/`{{else}}` that closes a list.
enum Item {
    Node(Node),
    Stop(Stop),
}

impl Parser<'_> {
    fn errorf<T>(&self, message: String) -> Parsed<T> {
        Err(ParseError { name: self.parse_name.to_owned(), line: self.buf.token[0].line, message })
    }

    fn lex_next(&mut self) -> Token {
        match self.tokens.get(self.next_token) {
            Some(t) => {
                self.next_token += 1;
                t.clone()
            }
            None => Token { kind: Kind::Eof, pos: self.text_len, val: String::new(), line: 0 },
        }
    }

    fn next(&mut self) -> Token {
        if self.buf.peek_count > 0 {
            self.buf.peek_count -= 1;
        } else {
            self.buf.token[0] = self.lex_next();
        }
        self.buf.token[self.buf.peek_count].clone()
    }

    fn backup(&mut self) {
        self.buf.peek_count += 1;
    }

    fn backup2(&mut self, t1: Token) {
        self.buf.token[1] = t1;
        self.buf.peek_count = 2;
    }

    fn backup3(&mut self, t2: Token, t1: Token) {
        self.buf.token[1] = t1;
        self.buf.token[2] = t2;
        self.buf.peek_count = 3;
    }

    fn peek(&mut self) -> Token {
        if self.buf.peek_count > 0 {
            return self.buf.token[self.buf.peek_count - 1].clone();
        }
        self.buf.peek_count = 1;
        self.buf.token[0] = self.lex_next();
        self.buf.token[0].clone()
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let token = self.next();
            if token.kind != Kind::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let token = self.next_non_space();
        self.backup();
        token
    }

    fn expect(&mut self, kind: Kind, context: &str) -> Parsed<Token> {
        let token = self.next_non_space();
        if token.kind != kind {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn unexpected<T>(&self, token: &Token, context: &str) -> Parsed<T> {
        if token.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.parse_name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    /// Adds a finished tree; an empty body never replaces a non-empty one.
    fn add(&mut self, name: &str, root: List) -> Parsed<()> {
        let empty = |l: &List| l.nodes.iter().all(Node::is_empty);
        match self.trees.get(name) {
            Some(old) if !empty(&old.root) => {
                if !empty(&root) {
                    return self
                        .errorf(format!("template: multiple definition of template {}", crate::gofmt::quote(name)));
                }
            }
            _ => {
                self.trees.insert(name.to_owned(), Tree { root });
            }
        }
        Ok(())
    }

    /// Runs `body` as a separate tree (a `define` or `block`): own buffer, variables, range depth.
    fn sub_tree<T>(&mut self, body: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        let empty = Token { kind: Kind::Eof, pos: 0, val: String::new(), line: 0 };
        let buf =
            std::mem::replace(&mut self.buf, Buffer { token: [empty.clone(), empty.clone(), empty], peek_count: 0 });
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let result = body(self);
        self.buf = buf;
        self.vars = vars;
        self.range_depth = range_depth;
        result
    }

    fn parse_top(&mut self) -> Parsed<List> {
        let mut root = List { pos: self.peek().pos, nodes: Vec::new() };
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let delim = self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.sub_tree(Self::parse_definition)?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Item::Node(n) => root.nodes.push(n),
                Item::Stop(Stop::End) => return self.errorf("unexpected {{end}}".into()),
                Item::Stop(Stop::Else { .. }) => return self.errorf("unexpected {{else}}".into()),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> Parsed<()> {
        const CONTEXT: &str = "define clause";
        let name = self.next_non_space();
        if name.kind != Kind::String && name.kind != Kind::RawString {
            return self.unexpected(&name, CONTEXT);
        }
        let Some(name) = unquote(&name.val) else { return self.errorf("invalid syntax".into()) };
        self.expect(Kind::RightDelim, CONTEXT)?;
        let (root, stop) = self.item_list()?;
        if let Stop::Else { .. } = stop {
            return self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}"));
        }
        self.add(&name, root)
    }

    fn item_list(&mut self) -> Parsed<(List, Stop)> {
        let mut list = List { pos: self.peek_non_space().pos, nodes: Vec::new() };
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.nodes.push(n),
                Item::Stop(stop) => return Ok((list, stop)),
            }
        }
        self.errorf("unexpected EOF".into())
    }

    fn text_or_action(&mut self) -> Parsed<Item> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Text => Ok(Item::Node(Node::Text { pos: token.pos, text: token.val })),
            Kind::LeftDelim => {
                self.action_line = token.line;
                let item = self.action();
                self.action_line = 0;
                item
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> Parsed<Item> {
        let token = self.next_non_space();
        let node = match token.kind {
            Kind::Block => self.block_control()?,
            Kind::Break | Kind::Continue => {
                let word = if token.kind == Kind::Break { "break" } else { "continue" };
                let next = self.next_non_space();
                if next.kind != Kind::RightDelim {
                    return self.unexpected(&next, &format!("{{{{{word}}}}}"));
                }
                if self.range_depth == 0 {
                    return self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                if token.kind == Kind::Break {
                    Node::Break { pos: token.pos }
                } else {
                    Node::Continue { pos: token.pos }
                }
            }
            Kind::Else => {
                let peek = self.peek_non_space();
                if peek.kind == Kind::If || peek.kind == Kind::With {
                    return Ok(Item::Stop(Stop::Else { pos: peek.pos }));
                }
                let token = self.expect(Kind::RightDelim, "else")?;
                return Ok(Item::Stop(Stop::Else { pos: token.pos }));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::Stop(Stop::End));
            }
            Kind::If => Node::If(self.parse_control("if")?),
            Kind::Range => Node::Range(self.parse_control("range")?),
            Kind::With => Node::With(self.parse_control("with")?),
            Kind::Template => self.template_control()?,
            _ => {
                self.backup();
                let pos = self.peek().pos;
                Node::Action { pos, pipe: self.pipeline("command", Kind::RightDelim)? }
            }
        };
        Ok(Item::Node(node))
    }

    fn parse_control(&mut self, context: &str) -> Parsed<Branch> {
        if self.depth >= MAX_DEPTH {
            return self.errorf(format!("{context} nested more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let mark = self.vars.len();
        let result = self.parse_control_body(context);
        self.vars.truncate(mark);
        self.depth -= 1;
        result
    }

    fn parse_control_body(&mut self, context: &str) -> Parsed<Branch> {
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, stop) = listed?;
        let mut else_list = None;
        if let Stop::Else { pos } = stop {
            // `{{else if x}}` and `{{else with x}}` are an `{{else}}` holding one nested
            // `if`/`with` whose `{{end}}` closes both.
            let peeked = self.peek().kind;
            if context == "if" && peeked == Kind::If {
                self.next();
                else_list = Some(List { pos, nodes: vec![Node::If(self.parse_control("if")?)] });
            } else if context == "with" && peeked == Kind::With {
                self.next();
                else_list = Some(List { pos, nodes: vec![Node::With(self.parse_control("with")?)] });
            } else {
                let (list, stop) = self.item_list()?;
                if let Stop::Else { .. } = stop {
                    return self.errorf("expected end; found {{else}}".into());
                }
                else_list = Some(list);
            }
        }
        Ok(Branch { pos: pipe.pos, pipe, list, else_list })
    }

    fn block_control(&mut self) -> Parsed<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        if self.depth >= MAX_DEPTH {
            return self.errorf(format!("block nested more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let body = self.sub_tree(Self::item_list);
        self.depth -= 1;
        let (root, stop) = body?;
        if let Stop::Else { .. } = stop {
            return self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}"));
        }
        self.add(&name, root)?;
        Ok(Node::Template { pos: token.pos, name, pipe: Some(pipe) })
    }

    fn template_control(&mut self) -> Parsed<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, Kind::RightDelim)?);
        }
        Ok(Node::Template { pos: token.pos, name, pipe })
    }

    fn template_name(&self, token: &Token, context: &str) -> Parsed<String> {
        match token.kind {
            Kind::String | Kind::RawString => match unquote(&token.val) {
                Some(name) => Ok(name),
                None => self.errorf("invalid syntax".into()),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> Parsed<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe { pos: token.pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        'decls: loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            self.next();
            // Space is a token, so "$x foo" needs three tokens of look-ahead to tell an
            // argument from a declaration.
            let after_variable = self.peek();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(Variable { pos: v.pos, idents: vec![v.val.clone()] });
                    self.vars.push(v.val);
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(Variable { pos: v.pos, idents: vec![v.val.clone()] });
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue 'decls,
                            _ => return self.errorf("range can only initialize variables".into()),
                        }
                    }
                    return self.errorf(format!("too many declarations in {context}"));
                }
                _ if after_variable.kind == Kind::Space => self.backup3(v, after_variable),
                _ => self.backup2(v),
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            match token.kind {
                k if k == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Parsed<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                cmd.args[0],
                Arg::Bool { .. } | Arg::Dot { .. } | Arg::Nil { .. } | Arg::Number { .. } | Arg::String { .. }
            ) {
                return self.errorf(format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Parsed<Command> {
        let mut cmd = Command { pos: self.peek_non_space().pos, args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command".into());
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Parsed<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_owned());
        }
        // Go folds `.A.B` and `$x.A` into one node positioned at the chain, and rejects
        // fields on literals here.
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable(mut v) => {
                v.idents.extend(fields);
                Arg::Variable(Variable { pos, idents: v.idents })
            }
            Arg::Bool { .. } | Arg::String { .. } | Arg::Number { .. } | Arg::Nil { .. } | Arg::Dot { .. } => {
                return self.errorf(format!("unexpected . after term {}", crate::gofmt::quote(&node.to_string())));
            }
            other => Arg::Chain { pos, node: Box::new(other), fields },
        }))
    }

    fn term(&mut self) -> Parsed<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.kind {
            Kind::Identifier => {
                if !(self.has_function)(&token.val) {
                    return self.errorf(format!("function {} not defined", crate::gofmt::quote(&token.val)));
                }
                Arg::Identifier { pos, name: token.val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                if !self.vars.contains(&token.val) {
                    return self.errorf(format!("undefined variable {}", crate::gofmt::quote(&token.val)));
                }
                Arg::Variable(Variable { pos, idents: vec![token.val] })
            }
            Kind::Field => Arg::Field { pos, idents: token.val[1..].split('.').map(str::to_owned).collect() },
            Kind::Bool => Arg::Bool { pos, value: token.val == "true" },
            Kind::CharConstant | Kind::Complex | Kind::Number => match parse_number(&token.val, token.kind) {
                Ok(number) => Arg::Number { pos, number },
                Err(e) => return self.errorf(e),
            },
            Kind::LeftParen => {
                if self.depth >= MAX_DEPTH {
                    return self.errorf("max expression depth exceeded".into());
                }
                self.depth += 1;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            Kind::String | Kind::RawString => match unquote(&token.val) {
                Some(text) => Arg::String { pos, quoted: token.val, text },
                None => return self.errorf("invalid syntax".into()),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("t", text, &|f| f == "f").unwrap_err().to_string()
    }

    #[test]
    fn parse_errors_read_like_go() {
        assert_eq!(err("{{"), "template: t:1: unclosed action");
        assert_eq!(err("{{ .X "), "template: t:1: unclosed action");
        assert_eq!(err("{{end}}"), "template: t:1: unexpected {{end}}");
        assert_eq!(err("{{if 1}}"), "template: t:1: unexpected EOF");
        assert_eq!(err("{{ g }}"), "template: t:1: function \"g\" not defined");
        assert_eq!(err("{{ $x }}"), "template: t:1: undefined variable \"$x\"");
        assert_eq!(err("{{break}}"), "template: t:1: {{break}} outside {{range}}");
        assert_eq!(err("{{ 1 | 2 }}"), "template: t:1: non executable command in pipeline stage 2");
        assert_eq!(err("\n\n{{ ) }}"), "template: t:3: unexpected right paren U+0029 ')'");
        assert_eq!(err("{{ \"a\".x }}"), "template: t:1: unexpected . after term \"\\\"a\\\"\"");
        assert_eq!(
            err("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "template: t:1: template: multiple definition of template \"a\""
        );
        assert_eq!(err("{{ 99999999999999999999 }}"), "template: t:1: integer overflow: \"99999999999999999999\"");
        assert_eq!(err("{{ 1x }}"), "template: t:1: bad number syntax: \"1x\"");
        assert_eq!(err("{{ (1 }}"), "template: t:1: unclosed left paren");
        assert_eq!(err("{{ if 1 }}{{ else }}{{ else }}{{ end }}"), "template: t:1: expected end; found {{else}}");
    }

    #[test]
    fn error_in_a_multi_line_action_names_the_start_line() {
        assert_eq!(err("{{ f\n\"x }}"), "template: t:2: unterminated quoted string in action started at t:1");
    }

    #[test]
    fn numbers_are_ideal_constants() {
        let n = parse_number("0x10", Kind::Number).unwrap();
        assert_eq!((n.int, n.uint, n.float), (Some(16), Some(16), Some(16.0)));
        let n = parse_number("1e3", Kind::Number).unwrap();
        assert_eq!((n.int, n.float), (Some(1000), Some(1000.0)));
        let n = parse_number("'a'", Kind::CharConstant).unwrap();
        assert_eq!(n.int, Some(97));
        let n = parse_number("1_000", Kind::Number).unwrap();
        assert_eq!(n.int, Some(1000));
        let n = parse_number("0377", Kind::Number).unwrap();
        assert_eq!(n.int, Some(255));
    }

    #[test]
    fn unquote_handles_go_escapes() {
        assert_eq!(unquote(r#""a\tb\u00e9\x41\101""#).as_deref(), Some("a\tbéAA"));
        assert_eq!(unquote("`a\\n`").as_deref(), Some("a\\n"));
        assert_eq!(unquote(r#""\q""#), None);
    }
}
