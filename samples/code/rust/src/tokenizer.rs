//! A small hand-written tokenizer for a toy expression language.
//!
//! It recognises integers, floats, identifiers, string literals with
//! backslash escapes, single- and two-character operators, and `#` line
//! comments. Every token carries the byte offset where it starts so that
//! error messages can point at the offending input.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Int(i64),
    Float(f64),
    Ident(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub offset: usize,
}

#[derive(Debug, PartialEq)]
pub struct LexError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lex error at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for LexError {}

/// Two-character operators must be listed before their one-character prefixes.
const OPERATORS: &[&str] = &["==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "=", "!"];

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<TokenKind, LexError> {
        let mut seen_dot = false;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || c == '_' {
                self.bump();
            } else if c == '.' && !seen_dot {
                seen_dot = true;
                self.bump();
            } else {
                break;
            }
        }
        let text: String = self.src[start..self.pos].chars().filter(|&c| c != '_').collect();
        let err = |_| LexError { message: format!("invalid number {:?}", text), offset: start };
        if seen_dot {
            text.parse::<f64>().map(TokenKind::Float).map_err(|e| err(e.to_string()))
        } else {
            text.parse::<i64>().map(TokenKind::Int).map_err(|e| err(e.to_string()))
        }
    }

    fn string(&mut self, start: usize) -> Result<TokenKind, LexError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(LexError { message: "unterminated string".into(), offset: start }),
                Some('"') => return Ok(TokenKind::Str(out)),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    other => {
                        return Err(LexError {
                            message: format!("bad escape {:?}", other),
                            offset: self.pos,
                        })
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// Produce the next token, or `TokenKind::Eof` once input is exhausted.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        self.skip_trivia();
        let start = self.pos;
        let c = match self.bump() {
            None => return Ok(Token { kind: TokenKind::Eof, offset: start }),
            Some(c) => c,
        };
        let kind = match c {
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            ',' => TokenKind::Comma,
            '"' => self.string(start)?,
            c if c.is_ascii_digit() => self.number(start)?,
            c if c.is_alphabetic() || c == '_' => {
                while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
                    self.bump();
                }
                TokenKind::Ident(self.src[start..self.pos].to_string())
            }
            _ => {
                let rest = &self.src[start..];
                match OPERATORS.iter().find(|op| rest.starts_with(*op)) {
                    Some(op) => {
                        self.pos = start + op.len();
                        TokenKind::Op(op)
                    }
                    None => {
                        return Err(LexError { message: format!("unexpected character {:?}", c), offset: start })
                    }
                }
            }
        };
        Ok(Token { kind, offset: start })
    }
}

/// Tokenize the whole input, including the trailing `Eof` token.
pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer::new(src);
    let mut out = Vec::new();
    loop {
        let tok = lexer.next_token()?;
        let done = tok.kind == TokenKind::Eof;
        out.push(tok);
        if done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_and_numbers() {
        assert_eq!(
            kinds("x >= 1_000 # limit\n"),
            vec![TokenKind::Ident("x".into()), TokenKind::Op(">="), TokenKind::Int(1000), TokenKind::Eof]
        );
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(kinds(r#""a\"b""#), vec![TokenKind::Str("a\"b".into()), TokenKind::Eof]);
        assert!(tokenize("\"open").is_err());
    }
}
