//! Label and field selectors, parsed and matched as kube-apiserver does.
//!
//! Clients depend on the exact semantics rather than just "key=value":
//! `kubectl logs job/x` lists pods with the Job's `matchLabels` rendered by
//! `metav1.FormatLabelSelector`, `kubectl wait`/`delete` watch with
//! `fieldSelector=metadata.name=x`, and set-based selectors (`in`, `notin`,
//! `!key`) appear in user scripts. The label parser below is a port of the
//! lexer/parser in upstream
//! `staging/src/k8s.io/apimachinery/pkg/labels/selector.go` (including its
//! error messages, so a bad `?labelSelector=` gets upstream's 400 text), and
//! the field selector follows `staging/src/k8s.io/apimachinery/pkg/fields/selector.go`
//! plus the per-kind field-label conversions in `pkg/apis/core/v1/conversion.go`
//! and `pkg/apis/batch/v1/conversion.go`.
//!
//! Everything works on `serde_json::Value` objects because the server stores
//! JSON; typed `LabelSelector`s from k8s-openapi are accepted too.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use crate::resources::ResourceInfo;
use crate::status::{go_quote, ApiError, Cause};

// Label key and value syntax: `labels.Parse` in 1.33 checks keys with
// `IsQualifiedName` and values with `IsValidLabelValue`
// (`staging/src/k8s.io/apimachinery/pkg/labels/selector.go`); the one copy of
// those rules lives in `validation::names`.
use crate::validation::{
    is_qualified_name as label_key_errors, is_valid_label_value as label_value_errors,
};

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// A label-selector operator (`k8s.io/apimachinery/pkg/selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name in `selection.Operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// Builds a requirement, validating it like upstream `labels.NewRequirement`.
/// The error is the aggregated field-error text (`values[0][app]: Invalid value: ...`).
pub fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let mut causes: Vec<Cause> = Vec::new();
    let key_errs = label_key_errors(key);
    if !key_errs.is_empty() {
        causes.push(Cause::invalid("key", key, &key_errs.join("; ")));
    }
    match operator {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                causes.push(Cause::invalid(
                    "values",
                    values.clone(),
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                causes.push(Cause::invalid(
                    "values",
                    values.clone(),
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                causes.push(Cause::invalid(
                    "values",
                    values.clone(),
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                causes.push(Cause::invalid(
                    "values",
                    values.clone(),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    causes.push(Cause::invalid(
                        &format!("values[{i}]"),
                        v.as_str(),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let errs = label_value_errors(v);
        if !errs.is_empty() {
            causes.push(Cause::invalid(
                &format!("values[{i}][{key}]"),
                v.as_str(),
                &errs.join("; "),
            ));
        }
    }
    if causes.is_empty() {
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    } else {
        Err(crate::status::aggregate_causes(&causes))
    }
}

impl Requirement {
    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, in the order given.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Upstream `Requirement.Matches`.
    pub fn matches<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                lookup(&self.key).is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => {
                lookup(&self.key).is_none_or(|v| !self.has_value(v))
            }
            Operator::Exists => lookup(&self.key).is_some(),
            Operator::DoesNotExist => lookup(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = lookup(&self.key).and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream `Requirement.String`: `!k`, `k`, `k=v`, `k in (a,b)` with
    /// multi-values sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.operator {
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        if self.values.len() == 1 {
            f.write_str(&self.values[0])?;
        } else {
            let mut sorted = self.values.clone();
            sorted.sort();
            f.write_str(&sorted.join(","))?;
        }
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements, or "nothing".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// Matches every object (upstream `labels.Everything()`).
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Matches no object (upstream `labels.Nothing()`, what a nil
    /// `LabelSelector` converts to).
    pub fn nothing() -> Self {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the `?labelSelector=` syntax (upstream `labels.Parse`).
    ///
    /// Errors are [`ApiError::BadRequest`] carrying upstream's parser message,
    /// e.g. `unable to parse requirement: found 'b' expected: '('`.
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut reqs = Parser::new(selector)
            .parse()
            .map_err(ApiError::BadRequest)?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Upstream `metav1.LabelSelectorAsSelector` for a typed selector
    /// (`None` matches nothing, an empty selector everything).
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Self, ApiError> {
        let Some(sel) = sel else {
            return Ok(Selector::nothing());
        };
        let labels: Vec<(String, String)> = sel
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let exprs: Vec<(String, String, Vec<String>)> = sel
            .match_expressions
            .iter()
            .flatten()
            .map(|e| {
                (
                    e.key.clone(),
                    e.operator.clone(),
                    e.values.clone().unwrap_or_default(),
                )
            })
            .collect();
        Self::from_parts(labels, exprs)
    }

    /// [`Selector::from_label_selector`] for a JSON `LabelSelector`
    /// (`null`/missing matches nothing).
    pub fn from_label_selector_value(sel: &Value) -> Result<Self, ApiError> {
        let Some(obj) = sel.as_object() else {
            return Ok(Selector::nothing());
        };
        let labels: Vec<(String, String)> = obj
            .get("matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                let mut v: Vec<(String, String)> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                v.sort();
                v
            })
            .unwrap_or_default();
        let exprs: Vec<(String, String, Vec<String>)> = obj
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
                        let values = e
                            .get("values")
                            .and_then(Value::as_array)
                            .map(|vs| {
                                vs.iter()
                                    .map(|v| v.as_str().unwrap_or_default().to_string())
                                    .collect()
                            })
                            .unwrap_or_default();
                        (s("key").to_string(), s("operator").to_string(), values)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self::from_parts(labels, exprs)
    }

    fn from_parts(
        labels: Vec<(String, String)>,
        exprs: Vec<(String, String, Vec<String>)>,
    ) -> Result<Self, ApiError> {
        if labels.is_empty() && exprs.is_empty() {
            return Ok(Selector::everything());
        }
        let mut reqs = Vec::with_capacity(labels.len() + exprs.len());
        for (k, v) in labels {
            reqs.push(
                new_requirement(&k, Operator::Equals, vec![v]).map_err(ApiError::BadRequest)?,
            );
        }
        for (k, op, values) in exprs {
            let op = match op.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )))
                }
            };
            reqs.push(new_requirement(&k, op, values).map_err(ApiError::BadRequest)?);
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// A selector requiring exactly these labels (upstream `SelectorFromSet`).
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        Selector {
            requirements: labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                })
                .collect(),
            nothing: false,
        }
    }

    /// True when the selector does not restrict anything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the nothing-selector.
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value `key` must equal, if the selector pins one (upstream
    /// `RequiresExactMatch`); lets the store narrow a scan.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }

    /// Matches a label lookup.
    pub fn matches_with<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str> + Copy) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(lookup))
    }

    /// Matches a label map.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k).map(String::as_str))
    }

    /// Matches a JSON object by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }
}

impl fmt::Display for Selector {
    /// Upstream `internalSelector.String()`: requirements joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

/// `metav1.FormatLabelSelector`: the selector as kubectl prints it, `<none>`
/// when it selects everything or is nil, `<error>` when it is invalid.
pub fn format_label_selector(sel: Option<&LabelSelector>) -> String {
    format_selector(Selector::from_label_selector(sel))
}

/// [`format_label_selector`] for a JSON `LabelSelector` (e.g. a Job's `spec.selector`).
pub fn format_label_selector_value(sel: &Value) -> String {
    format_selector(Selector::from_label_selector_value(sel))
}

fn format_selector(sel: Result<Selector, ApiError>) -> String {
    match sel {
        Err(_) => "<error>".to_string(),
        Ok(s) => {
            let text = s.to_string();
            if text.is_empty() {
                "<none>".to_string()
            } else {
                text
            }
        }
    }
}

// --- the label selector lexer and parser (port of labels/selector.go) -------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn string_to_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn lex(&mut self) -> (Token, String) {
        while self.peek().is_some_and(is_whitespace) {
            self.pos += 1;
        }
        match self.peek() {
            None => (Token::EndOfString, String::new()),
            Some(c) if is_special_symbol(c) => self.scan_special_symbol(),
            Some(_) => self.scan_id_or_keyword(),
        }
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_special_symbol(c) || is_whitespace(c) {
                break;
            }
            self.pos += 1;
        }
        let bytes = &self.s[start..self.pos];
        let lit = String::from_utf8_lossy(bytes).into_owned();
        match string_to_token(bytes) {
            Some(t) => (t, lit),
            None => (Token::Identifier, lit),
        }
    }

    /// Longest special-symbol token (`!=`, `==`, `=`, `!`, ...).
    fn scan_special_symbol(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut last: Option<(Token, usize)> = None;
        while let Some(c) = self.peek() {
            if !is_special_symbol(c) {
                break;
            }
            let candidate = &self.s[start..=self.pos];
            match string_to_token(candidate) {
                Some(t) => {
                    last = Some((t, self.pos + 1));
                    self.pos += 1;
                }
                None if last.is_some() => break,
                None => self.pos += 1,
            }
        }
        match last {
            Some((t, end)) => {
                self.pos = end;
                (t, String::from_utf8_lossy(&self.s[start..end]).into_owned())
            }
            // Unreachable in practice: every single special symbol is a token.
            None => (
                Token::EndOfString,
                String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
            ),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(selector: &str) -> Self {
        let mut lexer = Lexer {
            s: selector.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let (t, lit) = lexer.lex();
            items.push((t, lit));
            if t == Token::EndOfString {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn adjust(tok: Token, ctx: Context) -> Token {
        if ctx == Context::Values && matches!(tok, Token::In | Token::NotIn) {
            Token::Identifier
        } else {
            tok
        }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        let (t, l) = &self.items[self.position.min(self.items.len() - 1)];
        (Self::adjust(*t, ctx), l.clone())
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let r = self.lookahead(ctx);
        if self.position < self.items.len() - 1 {
            self.position += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return new_requirement(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = label_key_errors(&lit);
        if !errs.is_empty() {
            // The parser validates with a nil field path, which Go prints as `<nil>`.
            return Err(Cause::invalid("<nil>", lit.as_str(), &errs.join("; ")).full_message());
        }
        let (t, _) = self.lookahead(Context::Values);
        if matches!(t, Token::EndOfString | Token::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `(a,b,c)`; values come back sorted and deduplicated (a Go `sets.String`).
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Context::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: std::collections::BTreeSet<String> = Default::default();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    set.insert(lit);
                    let (t2, l2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set.into_iter().collect()),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Token::ClosedPar {
                        set.insert(String::new());
                        return Ok(set.into_iter().collect());
                    }
                    if t2 == Token::Comma {
                        set.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if matches!(tok, Token::EndOfString | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

/// `=`/`==` or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

/// One `field=value` / `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

/// A parsed field selector: the AND of its terms (empty matches everything).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Upstream `fields.EscapeValue`.
pub fn escape_field_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

fn unescape_field_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ))
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, fop) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], fop, rhs));
            }
        }
    }
    None
}

impl FieldSelector {
    /// Parses the syntax only (upstream `fields.ParseSelector`); field names are
    /// not checked. Terms are kept in upstream's sorted order.
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(ApiError::BadRequest(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let value = unescape_field_value(rhs).map_err(ApiError::BadRequest)?;
            terms.push(FieldTerm {
                field: lhs.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Parses and checks every field against what `resource` supports,
    /// applying upstream's field-label conversions (`spec.host` →
    /// `spec.nodeName` for pods). Unsupported fields give upstream's 400 text.
    pub fn parse_for(resource: &ResourceInfo, selector: &str) -> Result<Self, ApiError> {
        let mut sel = Self::parse(selector)?;
        for t in &mut sel.terms {
            t.field = convert_field_label(resource, &t.field)?.to_string();
        }
        Ok(sel)
    }

    /// The terms.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// True when the selector does not restrict anything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value `field` must equal, if a term pins it (upstream
    /// `RequiresExactMatch`), e.g. `metadata.name` for a single-object watch.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }

    /// Matches against a field lookup; unknown fields read as `""` as in Go's
    /// `fields.Set.Get`.
    pub fn matches_with(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let have = lookup(&t.field).unwrap_or_default();
            match t.op {
                FieldOp::Equals => have == t.value,
                FieldOp::NotEquals => have != t.value,
            }
        })
    }

    /// Matches a JSON object of `resource` using its selectable fields.
    pub fn matches(&self, resource: &ResourceInfo, obj: &Value) -> bool {
        self.matches_with(|f| field_value(resource, obj, f))
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let op = match t.op {
                    FieldOp::Equals => "=",
                    FieldOp::NotEquals => "!=",
                };
                format!("{}{op}{}", t.field, escape_field_value(&t.value))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The field-label conversion kube-apiserver applies to each selector field:
/// returns the internal field name or upstream's error for an unsupported
/// one. Each kind's strategy has its conversion (`pkg/apis/core/v1/conversion.go`,
/// `pkg/apis/batch/v1/conversion.go`, ...); the default is [`meta_field_label`].
pub fn convert_field_label<'a>(
    resource: &ResourceInfo,
    label: &'a str,
) -> Result<&'a str, ApiError> {
    resource.strategy.field_label(label)
}

/// `runtime.DefaultMetaV1FieldSelectorConversion`: `metadata.name` and
/// `metadata.namespace` only.
pub fn meta_field_label(label: &str) -> Result<&str, ApiError> {
    match label {
        "metadata.name" | "metadata.namespace" => Ok(label),
        _ => Err(ApiError::BadRequest(format!(
            "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            go_quote(label)
        ))),
    }
}

/// The error of the core/v1 conversions: `field label not supported: <f>`.
pub fn core_field_label_error(label: &str) -> ApiError {
    ApiError::BadRequest(format!("field label not supported: {label}"))
}

/// The string at `pointer`, or `""`.
pub fn str_at(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The value of a selectable field of `obj`, as the registry's
/// `ToSelectableFields`/`GetAttrs` would compute it; `None` for a field the
/// resource does not expose. `metadata.name` (and `metadata.namespace` for
/// namespaced kinds) are common; the rest come from the kind's strategy.
pub fn field_value(resource: &ResourceInfo, obj: &Value, field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some(str_at(obj, "/metadata/name")),
        "metadata.namespace" if resource.namespaced => Some(str_at(obj, "/metadata/namespace")),
        _ => resource.strategy.field_value(obj, field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{EVENTS, JOBS, NAMESPACES, NODES, PODS};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use proptest::prelude::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn msg(r: Result<Selector, ApiError>) -> String {
        match r {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected BadRequest, got {other:?}"),
        }
    }

    /// Table from upstream `labels/selector_test.go` (TestSelectorMatches and
    /// friends), plus gt/lt which `labels.Parse` accepts.
    #[test]
    fn label_selector_matching_table() {
        let l = labels(&[("x", "y"), ("z", "w"), ("n", "5"), ("empty", "")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("x=y", true),
            ("x==y", true),
            ("x = y", true),
            ("  x  =  y  ", true),
            ("x=z", false),
            ("x!=z", true),
            ("x!=y", false),
            ("missing!=y", true),
            ("x=y,z=w", true),
            ("x=y,z=w2", false),
            ("x in (y,q)", true),
            ("x in (q)", false),
            ("missing in (y)", false),
            ("x notin (q)", true),
            ("x notin (y)", false),
            ("missing notin (y)", true),
            ("x", true),
            ("missing", false),
            ("!missing", true),
            ("!x", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("x>1", false),
            ("missing<1", false),
            ("empty=", true),
            ("empty in ()", true),
            ("x in (,y)", true),
            ("x in (in, notin, y)", true),
        ];
        for (sel, want) in cases {
            let s = Selector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&l), *want, "selector {sel:?}");
        }
    }

    #[test]
    fn label_selector_string_form_is_canonical() {
        let cases = [
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("z=c,x=a", "x=a,z=c"),
            ("x in (c,a,b,a)", "x in (a,b,c)"),
            ("x notin (b)", "x notin (b)"),
            ("!x , y", "!x,y"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("n>1,m<2", "m<2,n>1"),
            ("x in ()", "x in ()"),
        ];
        for (input, want) in cases {
            assert_eq!(Selector::parse(input).unwrap().to_string(), want, "{input}");
        }
    }

    /// Error texts from upstream `labels/selector.go` parser.
    #[test]
    fn label_selector_parse_errors() {
        let cases = [
            ("x in b", "unable to parse requirement: found 'b' expected: '('"),
            ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
            ("x=a y=b", "found 'y', expected: ',' or 'end of string'"),
            ("x=a,", "found '', expected: identifier after ','"),
            (",x", "found ',', expected: !, identifier, or 'end of string'"),
            ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            (
                "!=x",
                "found '!=', expected: !, identifier, or 'end of string'",
            ),
            ("!(x", "unable to parse requirement: found '(', expected: identifier"),
            (
                "n>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(msg(Selector::parse(input)), want, "{input}");
        }
        let bad_value = msg(Selector::parse("app=a/b"));
        assert!(
            bad_value.starts_with("unable to parse requirement: values[0][app]: Invalid value: \"a/b\": a valid label must be an empty string or consist of alphanumeric characters"),
            "{bad_value}"
        );
        let bad_key = msg(Selector::parse("-x=y"));
        assert!(
            bad_key.starts_with("unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            "{bad_key}"
        );
    }

    /// 1.33 wording (`IsQualifiedName`, `MaxLenError` in
    /// `apimachinery/pkg/util/validation/validation.go`).
    #[test]
    fn label_key_validation_messages() {
        assert!(label_key_errors("batch.kubernetes.io/controller-uid").is_empty());
        assert!(label_key_errors("a").is_empty());
        assert_eq!(
            label_key_errors("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            label_key_errors(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert!(label_key_errors("Foo.com/a")[0]
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert!(label_key_errors("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("My_value-1.2").is_empty());
        assert_eq!(label_value_errors("_a").len(), 1);
    }

    #[test]
    fn typed_label_selector_formats_like_format_label_selector() {
        let sel = LabelSelector {
            match_labels: Some(
                [(
                    "batch.kubernetes.io/controller-uid".to_string(),
                    "9512".to_string(),
                )]
                .into(),
            ),
            match_expressions: None,
        };
        assert_eq!(
            format_label_selector(Some(&sel)),
            "batch.kubernetes.io/controller-uid=9512"
        );
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&LabelSelector::default())),
            "<none>"
        );

        let sel = LabelSelector {
            match_labels: Some([("b".to_string(), "1".to_string())].into()),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "a".into(),
                    operator: "In".into(),
                    values: Some(vec!["y".into(), "x".into()]),
                },
                LabelSelectorRequirement {
                    key: "c".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(format_label_selector(Some(&sel)), "a in (x,y),b=1,!c");
        let bad = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
        };
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
    }

    #[test]
    fn json_label_selector_conversion_and_matching() {
        let sel = json!({"matchLabels": {"job-name": "pi"}, "matchExpressions": [
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "app", "operator": "Exists"}
        ]});
        let s = Selector::from_label_selector_value(&sel).unwrap();
        assert_eq!(s.to_string(), "app,job-name=pi,tier notin (db)");
        let pod = json!({"metadata": {"labels": {"job-name": "pi", "app": "x"}}});
        assert!(s.matches_object(&pod));
        let pod = json!({"metadata": {"labels": {"job-name": "pi", "app": "x", "tier": "db"}}});
        assert!(!s.matches_object(&pod));
        // nil selects nothing, {} selects everything (LabelSelectorAsSelector).
        assert!(!Selector::from_label_selector_value(&Value::Null)
            .unwrap()
            .matches_object(&pod));
        assert!(Selector::from_label_selector_value(&json!({}))
            .unwrap()
            .matches_object(&pod));
        assert_eq!(format_label_selector_value(&Value::Null), "<none>");
        assert_eq!(
            msg(Selector::from_label_selector_value(
                &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
            )),
            "\"Gt\" is not a valid label selector operator"
        );
    }

    #[test]
    fn exact_match_introspection() {
        let s = Selector::parse("a=1,b in (2),c in (3,4),d!=5").unwrap();
        assert_eq!(s.requires_exact_match("a"), Some("1"));
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), None);
        assert_eq!(s.requires_exact_match("d"), None);
        let f = FieldSelector::parse("metadata.name=x,status.phase!=Failed").unwrap();
        assert_eq!(f.requires_exact_match("metadata.name"), Some("x"));
        assert_eq!(f.requires_exact_match("status.phase"), None);
    }

    #[test]
    fn field_selector_parsing() {
        let f = FieldSelector::parse("metadata.name=x,status.phase!=Running,spec.nodeName==n1")
            .unwrap();
        assert_eq!(
            f.terms(),
            &[
                FieldTerm {
                    field: "metadata.name".into(),
                    op: FieldOp::Equals,
                    value: "x".into()
                },
                FieldTerm {
                    field: "spec.nodeName".into(),
                    op: FieldOp::Equals,
                    value: "n1".into()
                },
                FieldTerm {
                    field: "status.phase".into(),
                    op: FieldOp::NotEquals,
                    value: "Running".into()
                },
            ]
        );
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",,").unwrap().is_empty());
        let esc = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(esc.terms()[0].value, r"a,b=c\d");
        assert_eq!(esc.to_string(), r"metadata.name=a\,b\=c\\d");
        let cases = [
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (input, want) in cases {
            match FieldSelector::parse(input) {
                Err(ApiError::BadRequest(m)) => assert_eq!(m, want, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn field_label_conversions_match_upstream_text() {
        let cases: &[(&ResourceInfo, &str, Result<&str, &str>)] = &[
            (&PODS, "status.phase", Ok("status.phase")),
            (&PODS, "spec.host", Ok("spec.nodeName")),
            (&PODS, "foo", Err("field label not supported: foo")),
            (&JOBS, "status.successful", Ok("status.successful")),
            (
                &JOBS,
                "status.succeeded",
                Err("field label \"status.succeeded\" not supported for batchv1.Job"),
            ),
            (&NODES, "spec.unschedulable", Ok("spec.unschedulable")),
            (
                &NODES,
                "metadata.namespace",
                Err("field label not supported: metadata.namespace"),
            ),
            (&NAMESPACES, "status.phase", Ok("status.phase")),
            (&EVENTS, "involvedObject.uid", Ok("involvedObject.uid")),
            (
                &EVENTS,
                "message",
                Err("field label not supported: message"),
            ),
        ];
        for (res, label, want) in cases {
            let got = convert_field_label(res, label).map_err(|e| e.message());
            assert_eq!(got, want.map_err(str::to_string), "{} {label}", res.plural);
        }
        let err = FieldSelector::parse_for(&PODS, "spec.host=n1,bogus=1").unwrap_err();
        assert_eq!(err.code(), 400);
        assert_eq!(err.message(), "field label not supported: bogus");
        let ok = FieldSelector::parse_for(&PODS, "spec.host=n1").unwrap();
        assert_eq!(ok.terms()[0].field, "spec.nodeName");
    }

    #[test]
    fn field_selector_matching_on_json() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Never"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let cases = [
            ("metadata.name=p", true),
            ("metadata.name=q", false),
            ("metadata.namespace=default,status.phase=Running", true),
            ("status.phase!=Running", false),
            ("spec.nodeName=n1", true),
            ("spec.schedulerName=", true),
            ("spec.hostNetwork=false", true),
            ("status.podIP=10.0.0.5", true),
        ];
        for (sel, want) in cases {
            let f = FieldSelector::parse_for(&PODS, sel).unwrap();
            assert_eq!(f.matches(&PODS, &pod), want, "{sel}");
        }
        let job = json!({"metadata": {"name": "j", "namespace": "ns"}, "status": {}});
        assert!(FieldSelector::parse_for(&JOBS, "status.successful=0")
            .unwrap()
            .matches(&JOBS, &job));
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 3}});
        assert!(FieldSelector::parse_for(&JOBS, "status.successful=3")
            .unwrap()
            .matches(&JOBS, &job));
        let ev = json!({"involvedObject": {"kind": "Job", "name": "pi"}, "reason": "Completed",
                        "reportingComponent": "job-controller", "type": "Normal"});
        for sel in [
            "involvedObject.kind=Job,involvedObject.name=pi",
            "source=job-controller",
            "reportingComponent=job-controller",
            "type=Normal,reason=Completed",
        ] {
            assert!(
                FieldSelector::parse_for(&EVENTS, sel)
                    .unwrap()
                    .matches(&EVENTS, &ev),
                "{sel}"
            );
        }
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(FieldSelector::parse_for(&NODES, "spec.unschedulable=true")
            .unwrap()
            .matches(&NODES, &node));
        let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
        assert!(FieldSelector::parse_for(&NAMESPACES, "status.phase=Active")
            .unwrap()
            .matches(&NAMESPACES, &ns));
    }

    proptest! {
        /// A selector built from a label map matches that map, and its string
        /// form parses back to the same selector.
        #[test]
        fn from_map_round_trips(m in proptest::collection::btree_map("[a-z][a-z0-9]{0,8}", "[a-z0-9]{0,8}", 0..6)) {
            let s = Selector::from_map(&m);
            prop_assert!(s.matches(&m));
            let parsed = Selector::parse(&s.to_string()).unwrap();
            prop_assert_eq!(parsed.to_string(), s.to_string());
            prop_assert!(parsed.matches(&m));
        }

        /// `in` and `notin` over the same values are complements.
        #[test]
        fn in_and_notin_are_complements(
            vals in proptest::collection::btree_set("[a-z]{1,3}", 1..4),
            have in proptest::option::of("[a-z]{1,3}"),
        ) {
            let list = vals.iter().cloned().collect::<Vec<_>>().join(",");
            let sin = Selector::parse(&format!("k in ({list})")).unwrap();
            let snot = Selector::parse(&format!("k notin ({list})")).unwrap();
            let l: BTreeMap<String, String> = have.into_iter().map(|v| ("k".to_string(), v)).collect();
            prop_assert_ne!(sin.matches(&l), snot.matches(&l));
        }

        /// Field values survive escape → parse.
        #[test]
        fn field_values_round_trip_through_escaping(v in "[a-z,=\\\\ ]{0,12}") {
            let f = FieldSelector::parse(&format!("metadata.name={}", escape_field_value(&v))).unwrap();
            prop_assert_eq!(&f.terms()[0].value, &v);
        }
    }
}
