//! Intrinsic functions of payload templates (`"key.$": "States.Format('Hi {}', $.name)"`):
//! a small parser run at definition time, so that unknown functions, wrong argument counts and
//! syntax errors reject the definition, and the evaluator used at run time. Supported:
//! `States.Format`, `States.StringToJson`, `States.JsonToString`, `States.Array`,
//! `States.ArrayLength`, `States.MathAdd`, `States.UUID`.

use std::borrow::Cow;

use serde_json::Value;
use thiserror::Error;

use crate::context::ContextObject;
use crate::failure::{ExecutionFailure, names};
use crate::path::{Path, PathError};

/// Why an intrinsic function call was rejected at definition time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntrinsicError {
    #[error("unknown intrinsic function \"{name}\"")]
    UnknownFunction { name: String },
    #[error("\"{text}\", at character {position}: {reason}")]
    Syntax {
        text: String,
        position: usize,
        reason: &'static str,
    },
    #[error("{function} takes {expected} argument(s), but {got} were given")]
    Arity {
        function: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("the template of States.Format has {holes} placeholder(s) for {args} argument(s)")]
    FormatArity { holes: usize, args: usize },
    #[error("an argument is not a valid path")]
    Path(#[source] PathError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayLength,
    MathAdd,
    Uuid,
}

impl Function {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "States.Format" => Self::Format,
            "States.StringToJson" => Self::StringToJson,
            "States.JsonToString" => Self::JsonToString,
            "States.Array" => Self::Array,
            "States.ArrayLength" => Self::ArrayLength,
            "States.MathAdd" => Self::MathAdd,
            "States.UUID" => Self::Uuid,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Format => "States.Format",
            Self::StringToJson => "States.StringToJson",
            Self::JsonToString => "States.JsonToString",
            Self::Array => "States.Array",
            Self::ArrayLength => "States.ArrayLength",
            Self::MathAdd => "States.MathAdd",
            Self::Uuid => "States.UUID",
        }
    }

    fn check_arity(self, got: usize) -> Result<(), IntrinsicError> {
        let (ok, expected) = match self {
            Self::Format => (got >= 1, "at least 1"),
            Self::StringToJson | Self::JsonToString | Self::ArrayLength => (got == 1, "1"),
            Self::Array => (true, "any number of"),
            Self::MathAdd => (got == 2, "2"),
            Self::Uuid => (got == 0, "0"),
        };
        if ok {
            Ok(())
        } else {
            Err(IntrinsicError::Arity {
                function: self.name(),
                expected,
                got,
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A quoted string, kept raw (escapes undecoded) so that `States.Format` can tell an
    /// escaped `\{` from a placeholder.
    Str(String),
    Literal(Value),
    Path(Path),
    Call(Call),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    function: Function,
    args: Vec<Arg>,
}

pub(crate) fn parse(text: &str) -> Result<Call, IntrinsicError> {
    let mut parser = Parser { text, pos: 0 };
    let call = parser.call()?;
    parser.skip_spaces();
    if parser.pos < text.len() {
        return Err(parser.syntax("unexpected text after the call"));
    }
    Ok(call)
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn syntax(&self, reason: &'static str) -> IntrinsicError {
        IntrinsicError::Syntax {
            text: self.text.into(),
            position: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_spaces(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn take_while(&mut self, mut keep: impl FnMut(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    fn call(&mut self) -> Result<Call, IntrinsicError> {
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '.');
        let Some(function) = Function::from_name(name) else {
            return Err(IntrinsicError::UnknownFunction { name: name.into() });
        };
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(self.syntax("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_spaces();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.syntax("expected ',' or ')'")),
                }
            }
        }
        function.check_arity(args.len())?;
        if let (Function::Format, Some(Arg::Str(template))) = (function, args.first()) {
            let holes = format_parts(template)
                .iter()
                .filter(|p| matches!(p, Part::Hole))
                .count();
            if holes != args.len() - 1 {
                return Err(IntrinsicError::FormatArity {
                    holes,
                    args: args.len() - 1,
                });
            }
        }
        Ok(Call { function, args })
    }

    fn arg(&mut self) -> Result<Arg, IntrinsicError> {
        self.skip_spaces();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => {
                let mut depth = 0usize;
                let text = self.take_while(|c| match c {
                    '[' => {
                        depth += 1;
                        true
                    }
                    ']' => {
                        depth = depth.saturating_sub(1);
                        true
                    }
                    ',' | ')' => depth > 0,
                    c => !c.is_whitespace() || depth > 0,
                });
                Path::parse(text)
                    .map(Arg::Path)
                    .map_err(IntrinsicError::Path)
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                let text = self.take_while(|c| c == '-' || c == '.' || c.is_ascii_digit());
                match serde_json::from_str::<serde_json::Number>(text) {
                    Ok(number) => Ok(Arg::Literal(Value::Number(number))),
                    Err(_) => {
                        self.pos = start;
                        Err(self.syntax("invalid number"))
                    }
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.take_while(|c| c.is_ascii_alphanumeric() || c == '.');
                match word {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => {
                        self.pos = start;
                        self.call().map(Arg::Call)
                    }
                }
            }
            _ => Err(self.syntax("expected an argument")),
        }
    }

    fn string(&mut self) -> Result<Arg, IntrinsicError> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return Ok(Arg::Str(self.text[start + 1..self.pos - 1].into())),
                _ => {}
            }
        }
        self.pos = start;
        Err(self.syntax("unterminated string"))
    }
}

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    Hole,
}

/// Splits a raw `States.Format` template at its unescaped `{}` placeholders.
fn format_parts(raw: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.extend(chars.next()),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                parts.push(Part::Text(std::mem::take(&mut text)));
                parts.push(Part::Hole);
            }
            c => text.push(c),
        }
    }
    parts.push(Part::Text(text));
    parts
}

/// A raw string literal with its escapes (`\'`, `\\`, `\{`, `\}`) decoded.
fn decode(raw: &str) -> String {
    format_parts(raw)
        .into_iter()
        .map(|part| match part {
            Part::Text(text) => text,
            Part::Hole => "{}".into(),
        })
        .collect()
}

fn failure(function: Function, cause: impl std::fmt::Display) -> ExecutionFailure {
    ExecutionFailure::new(
        names::INTRINSIC_FAILURE,
        format!("{}: {cause}", function.name()),
    )
}

impl Arg {
    fn evaluate(
        &self,
        input: &Value,
        context: &ContextObject<'_>,
    ) -> Result<Value, ExecutionFailure> {
        match self {
            Self::Str(raw) => Ok(Value::String(decode(raw))),
            Self::Literal(value) => Ok(value.clone()),
            Self::Path(path) => path
                .resolve(input, context)
                .map(Cow::into_owned)
                .map_err(|e| {
                    ExecutionFailure::runtime(format!("an intrinsic function argument: {e}"))
                }),
            Self::Call(call) => call.evaluate(input, context),
        }
    }
}

impl Call {
    pub(crate) fn evaluate(
        &self,
        input: &Value,
        context: &ContextObject<'_>,
    ) -> Result<Value, ExecutionFailure> {
        let function = self.function;
        let args = self
            .args
            .iter()
            .map(|arg| arg.evaluate(input, context))
            .collect::<Result<Vec<_>, _>>()?;
        match function {
            Function::Format => {
                let template = match (&self.args[0], &args[0]) {
                    (Arg::Str(raw), _) => raw.as_str(),
                    (_, Value::String(text)) => text.as_str(),
                    (_, other) => {
                        return Err(failure(
                            function,
                            format!("template {other} is not a string"),
                        ));
                    }
                };
                let parts = format_parts(template);
                let holes = parts.iter().filter(|p| matches!(p, Part::Hole)).count();
                if holes != args.len() - 1 {
                    return Err(failure(
                        function,
                        format!("{holes} placeholder(s) for {} argument(s)", args.len() - 1),
                    ));
                }
                let mut values = args[1..].iter();
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(text) => out.push_str(&text),
                        Part::Hole => match values.next() {
                            Some(Value::String(s)) => out.push_str(s),
                            Some(other) => out.push_str(&other.to_string()),
                            None => {}
                        },
                    }
                }
                Ok(Value::String(out))
            }
            Function::StringToJson => match &args[0] {
                Value::String(text) => serde_json::from_str(text).map_err(|e| failure(function, e)),
                other => Err(failure(function, format!("{other} is not a string"))),
            },
            Function::JsonToString => Ok(Value::String(args[0].to_string())),
            Function::Array => Ok(Value::Array(args)),
            Function::ArrayLength => match &args[0] {
                Value::Array(items) => Ok(Value::from(items.len())),
                other => Err(failure(function, format!("{other} is not an array"))),
            },
            Function::MathAdd => {
                let (Some(a), Some(b)) = (args[0].as_i64(), args[1].as_i64()) else {
                    return Err(failure(function, "arguments must be integers"));
                };
                a.checked_add(b)
                    .map(Value::from)
                    .ok_or_else(|| failure(function, "the sum overflows"))
            }
            Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}
