//! The lexer: template text to tokens, with Go text/template's token rules (delimiters `{{ }}`,
//! trim markers `{{- ` / ` -}}`, comments `{{/* */}}`, numbers, strings, raw strings, character
//! constants, fields, variables, keywords).
//!
//! Invariant: token positions are byte offsets into the whole input and token lines are the
//! line where the token starts, because execution errors report `line:col` from the position
//! and parse errors report the line of the last token read, as Go does. Lexing stops at the first
//! error token; the parser never asks for more after one.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords; `Token`'s Display prints these as `<word>`.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Kind {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Dot
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Nil
                | Kind::Range
                | Kind::Template
                | Kind::With
        )
    }
}

/// One token: its kind, where it starts, its text (the message for `Kind::Error`) and its line.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl std::fmt::Display for Token {
    /// The way Go's parser quotes a token in "unexpected ..." messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", crate::gofmt::quote(&head))
            }
            _ => f.write_str(&crate::gofmt::quote(&self.val)),
        }
    }
}

fn keyword(word: &str) -> Option<Kind> {
    Some(match word {
        "." => Kind::Dot,
        "block" => Kind::Block,
        "break" => Kind::Break,
        "continue" => Kind::Continue,
        "define" => Kind::Define,
        "else" => Kind::Else,
        "end" => Kind::End,
        "if" => Kind::If,
        "range" => Kind::Range,
        "nil" => Kind::Nil,
        "template" => Kind::Template,
        "with" => Kind::With,
        _ => return None,
    })
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker is the `-` plus the one ASCII space next to it.
const TRIM_MARKER_LEN: usize = 2;

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
    Done,
}

/// Splits the whole input into tokens, ending with `Eof` or the first `Error`.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut lexer = Lexer { input, pos: 0, start: 0, width: 0, paren_depth: 0, line: 1, start_line: 1 };
    let mut tokens = Vec::new();
    let mut state = State::Text;
    loop {
        let (token, next) = lexer.step(state);
        state = next;
        if let Some(token) = token {
            let stop = matches!(token.kind, Kind::Eof | Kind::Error);
            tokens.push(token);
            if stop {
                return tokens;
            }
        }
        if matches!(state, State::Done) {
            tokens.push(lexer.emit(Kind::Eof));
            return tokens;
        }
    }
}

fn is_space(r: Option<char>) -> bool {
    matches!(r, Some(' ' | '\t' | '\r' | '\n'))
}

fn is_alphanumeric(r: Option<char>) -> bool {
    matches!(r, Some(c) if c == '_' || c.is_alphabetic() || c.is_numeric())
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(Some(b[1] as char))
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(Some(b[0] as char)) && b[1] == b'-'
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i32,
    line: usize,
    start_line: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        let Some(r) = self.input[self.pos..].chars().next() else {
            self.width = 0;
            return None;
        };
        self.width = r.len_utf8();
        self.pos += self.width;
        if r == '\n' {
            self.line += 1;
        }
        Some(r)
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.width == 1 && self.input.as_bytes()[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn emit(&mut self, kind: Kind) -> Token {
        let token =
            Token { kind, pos: self.start, val: self.input[self.start..self.pos].to_owned(), line: self.start_line };
        self.start = self.pos;
        self.start_line = self.line;
        token
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(r) if valid.contains(r) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while matches!(self.next(), Some(r) if valid.contains(r)) {}
        self.backup();
    }

    fn error(&self, message: String) -> (Option<Token>, State) {
        (Some(Token { kind: Kind::Error, pos: self.start, val: message, line: self.start_line }), State::Done)
    }

    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    /// Whether the input is at `}}` (or ` -}}`), and whether that delimiter trims.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM), false)
    }

    /// Whether the next rune may follow an identifier, field or variable.
    fn at_terminator(&mut self) -> bool {
        let r = self.peek();
        is_space(r) || matches!(r, None | Some('.' | ',' | '|' | ':' | ')' | '(' | '}'))
    }

    fn step(&mut self, state: State) -> (Option<Token>, State) {
        match state {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::RightDelim => self.lex_right_delim(),
            State::InsideAction => self.lex_inside_action(),
            State::Space => self.lex_space(),
            State::Identifier => self.lex_identifier(),
            State::Field => self.lex_field_or_variable(Kind::Field),
            State::Variable => {
                if self.at_terminator() {
                    return (Some(self.emit(Kind::Variable)), State::InsideAction);
                }
                self.lex_field_or_variable(Kind::Variable)
            }
            State::Char => self.lex_char(),
            State::Number => self.lex_number(),
            State::Quote => self.lex_quote(),
            State::RawQuote => self.lex_raw_quote(),
            State::Done => (None, State::Done),
        }
    }

    fn lex_text(&mut self) -> (Option<Token>, State) {
        self.width = 0;
        if let Some(x) = self.rest().find(LEFT_DELIM) {
            self.pos += x;
            let mut trim = 0;
            if has_left_trim_marker(&self.input[self.pos + LEFT_DELIM.len()..]) {
                let before = &self.input[self.start..self.pos];
                trim = before.len() - before.trim_end_matches([' ', '\t', '\r', '\n']).len();
            }
            self.pos -= trim;
            let mut token = None;
            if self.pos > self.start {
                self.line += self.input[self.start..self.pos].matches('\n').count();
                token = Some(self.emit(Kind::Text));
            }
            self.pos += trim;
            self.ignore();
            return (token, State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += self.input[self.start..self.pos].matches('\n').count();
            return (Some(self.emit(Kind::Text)), State::Done);
        }
        (Some(self.emit(Kind::Eof)), State::Done)
    }

    fn lex_left_delim(&mut self) -> (Option<Token>, State) {
        self.pos += LEFT_DELIM.len();
        let after_marker = if has_left_trim_marker(self.rest()) { TRIM_MARKER_LEN } else { 0 };
        if self.input[self.pos + after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return (None, State::Comment);
        }
        let token = self.emit(Kind::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        (Some(token), State::InsideAction)
    }

    fn lex_comment(&mut self) -> (Option<Token>, State) {
        self.pos += LEFT_COMMENT.len();
        let Some(i) = self.rest().find(RIGHT_COMMENT) else {
            return self.error("unclosed comment".into());
        };
        self.pos += i + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += left_trim_length(self.rest());
        }
        self.ignore();
        (None, State::Text)
    }

    fn lex_right_delim(&mut self) -> (Option<Token>, State) {
        let trim = has_right_trim_marker(self.rest());
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        let token = self.emit(Kind::RightDelim);
        if trim {
            self.pos += left_trim_length(self.rest());
            self.ignore();
        }
        (Some(token), State::Text)
    }

    fn lex_inside_action(&mut self) -> (Option<Token>, State) {
        if self.at_right_delim().0 {
            if self.paren_depth == 0 {
                return (None, State::RightDelim);
            }
            return self.error("unclosed left paren".into());
        }
        let r = self.next();
        let token = match r {
            None => return self.error("unclosed action".into()),
            Some(c) if is_space(Some(c)) => {
                self.backup();
                return (None, State::Space);
            }
            Some('=') => self.emit(Kind::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Kind::Declare)
            }
            Some('|') => self.emit(Kind::Pipe),
            Some('"') => return (None, State::Quote),
            Some('`') => return (None, State::RawQuote),
            Some('$') => return (None, State::Variable),
            Some('\'') => return (None, State::Char),
            Some('.') if !self.rest().starts_with(|c: char| c.is_ascii_digit()) && !self.rest().is_empty() => {
                return (None, State::Field);
            }
            Some('.' | '+' | '-' | '0'..='9') => {
                self.backup();
                return (None, State::Number);
            }
            Some(c) if is_alphanumeric(Some(c)) => {
                self.backup();
                return (None, State::Identifier);
            }
            Some('(') => {
                self.paren_depth += 1;
                self.emit(Kind::LeftParen)
            }
            Some(')') => {
                let token = self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren U+0029 ')'".into());
                }
                token
            }
            Some(c) if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
            Some(c) => return self.error(format!("unrecognized character in action: {}", crate::gofmt::sharp_u(c))),
        };
        (Some(token), State::InsideAction)
    }

    fn lex_space(&mut self) -> (Option<Token>, State) {
        let mut spaces = 0;
        while is_space(self.peek()) {
            self.next();
            spaces += 1;
        }
        // A space followed by `-}}` belongs to the right delimiter's trim marker.
        let last_space = &self.input[self.pos - 1..];
        if has_right_trim_marker(last_space) && last_space[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            self.pos -= 1;
            if self.input.as_bytes()[self.pos] == b'\n' {
                self.line -= 1;
            }
            if spaces == 1 {
                return (None, State::RightDelim);
            }
        }
        (Some(self.emit(Kind::Space)), State::InsideAction)
    }

    fn lex_identifier(&mut self) -> (Option<Token>, State) {
        loop {
            let r = self.next();
            if is_alphanumeric(r) {
                continue;
            }
            self.backup();
            if !self.at_terminator() {
                return self.bad_character(r);
            }
            let word = &self.input[self.start..self.pos];
            let kind = match keyword(word) {
                Some(k) => k,
                None if word == "true" || word == "false" => Kind::Bool,
                None => Kind::Identifier,
            };
            return (Some(self.emit(kind)), State::InsideAction);
        }
    }

    fn bad_character(&self, r: Option<char>) -> (Option<Token>, State) {
        let shown = r.map_or_else(|| "U+FFFFFFFFFFFFFFFF".to_owned(), crate::gofmt::sharp_u);
        self.error(format!("bad character {shown}"))
    }

    fn lex_field_or_variable(&mut self, kind: Kind) -> (Option<Token>, State) {
        if self.at_terminator() {
            let kind = if kind == Kind::Variable { Kind::Variable } else { Kind::Dot };
            return (Some(self.emit(kind)), State::InsideAction);
        }
        let mut r;
        loop {
            r = self.next();
            if !is_alphanumeric(r) {
                self.backup();
                break;
            }
        }
        if !self.at_terminator() {
            return self.bad_character(r);
        }
        (Some(self.emit(kind)), State::InsideAction)
    }

    fn lex_char(&mut self) -> (Option<Token>, State) {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated character constant".into());
                    }
                }
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        (Some(self.emit(Kind::CharConstant)), State::InsideAction)
    }

    fn lex_number(&mut self) -> (Option<Token>, State) {
        if !self.scan_number() {
            let text = crate::gofmt::quote(&self.input[self.start..self.pos]);
            return self.error(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = crate::gofmt::quote(&self.input[self.start..self.pos]);
                return self.error(format!("bad number syntax: {text}"));
            }
            return (Some(self.emit(Kind::Complex)), State::InsideAction);
        }
        (Some(self.emit(Kind::Number)), State::InsideAction)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alphanumeric(self.peek()) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> (Option<Token>, State) {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated quoted string".into());
                    }
                }
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        (Some(self.emit(Kind::String)), State::InsideAction)
    }

    fn lex_raw_quote(&mut self) -> (Option<Token>, State) {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        (Some(self.emit(Kind::RawString)), State::InsideAction)
    }
}

fn left_trim_length(s: &str) -> usize {
    s.len() - s.trim_start_matches([' ', '\t', '\r', '\n']).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<(Kind, String)> {
        lex(input).into_iter().map(|t| (t.kind, t.val)).collect()
    }

    #[test]
    fn trim_markers_eat_surrounding_space() {
        let got = kinds("a \n {{- .X -}} \n b");
        let want = [
            (Kind::Text, "a".to_owned()),
            (Kind::LeftDelim, "{{".into()),
            (Kind::Field, ".X".into()),
            (Kind::RightDelim, "}}".into()),
            (Kind::Text, "b".into()),
            (Kind::Eof, "".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn minus_without_space_is_a_number() {
        let got = kinds("{{-3}}");
        assert_eq!(got[1], (Kind::Number, "-3".into()));
    }

    #[test]
    fn field_chain_splits_at_dots() {
        let got = kinds("{{$x.Labels.foo}}");
        assert_eq!(got[1], (Kind::Variable, "$x".into()));
        assert_eq!(got[2], (Kind::Field, ".Labels".into()));
        assert_eq!(got[3], (Kind::Field, ".foo".into()));
    }

    #[test]
    fn comment_is_dropped() {
        assert_eq!(
            kinds("x{{/* c */}}y"),
            [(Kind::Text, "x".into()), (Kind::Text, "y".into()), (Kind::Eof, "".into())]
        );
    }
}
