//! Label selectors (`app=web,tier!=db,env in (prod,staging),!canary`) and field selectors
//! (`metadata.name=web,spec.nodeName!=node-1`), parsed, validated, matched and printed as
//! apimachinery's `labels` and `fields` packages do.
//!
//! # Label selectors
//!
//! [`Selector`] is `labels.Selector`. The string syntax:
//!
//! ```text
//! <selector>    ::= "" | <requirement> | <requirement> "," <selector>
//! <requirement> ::= ["!"] KEY
//!                 | KEY ("=" | "==" | "!=") VALUE
//!                 | KEY ("in" | "notin") "(" VALUE ["," VALUE]* ")"
//!                 | KEY (">" | "<") INTEGER
//! ```
//!
//! Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored; `in` and
//! `notin` are keywords only where an operator is expected (`notin=in` is an exact match).
//! A bare `KEY` requires the label to exist, `!KEY` requires it not to. An empty value is
//! allowed (`x=`, `x in (a,)`). Keys are qualified names (an optional DNS-subdomain prefix of at
//! most 253 characters and `/`, then a name of at most 63 characters of `[A-Za-z0-9._-]`
//! starting and ending alphanumeric); values are at most 63 such characters, or empty. The
//! errors carry apimachinery's messages.
//!
//! Requirements are ANDed. [`Display`](fmt::Display) prints the canonical string: requirements
//! sorted by key (stably: two requirements on one key keep their order), set values sorted.
//! The empty selector `""` matches everything.
//!
//! # From a `LabelSelector`
//!
//! [`Selector::from_label_selector`] is `metav1.LabelSelectorAsSelector`:
//!
//! - no selector at all (`None`, a `null` or missing field) matches **nothing**;
//! - an empty selector (`{}`: no `matchLabels`, no `matchExpressions`) matches **everything**;
//! - otherwise `matchLabels` become `key=value` requirements and `matchExpressions` use the
//!   operators `In`, `NotIn`, `Exists` and `DoesNotExist`; any other operator, an `In`/`NotIn`
//!   without values or an `Exists`/`DoesNotExist` with values is an error.
//!
//! For example a policy/v1 PodDisruptionBudget with a null selector selects no Pod and one
//! with `selector: {}` selects every Pod of its namespace. A Service's `selector` is a plain
//! map, not a `LabelSelector`: use [`Selector::from_set`], where an empty map matches
//! everything, and check for a missing or empty map first where Kubernetes does (the
//! endpoints controllers skip Services without a selector).
//!
//! # Field selectors
//!
//! [`FieldSelector`] is `fields.Selector`: comma-separated `field=value`, `field==value` or
//! `field!=value` terms, ANDed. In a value, `\,`, `\=` and `\\` stand for `,`, `=` and `\`
//! (apimachinery's `EscapeValue`); any other escape, or an unescaped `,`/`=` in a value, is an
//! error. A missing field reads as the empty string, so `spec.nodeName=` matches unscheduled
//! Pods. Terms are printed sorted by their text.
//!
//! ```
//! use std::collections::BTreeMap;
//! use kubox_core::selector::{FieldSelector, Selector};
//!
//! let sel: Selector = "tier in (web, api),env!=dev,!canary".parse().unwrap();
//! assert_eq!(sel.to_string(), "!canary,env!=dev,tier in (api,web)");
//! let labels = BTreeMap::from([("tier".to_string(), "web".to_string())]);
//! assert!(sel.matches(&labels));
//!
//! let fields: FieldSelector = "metadata.name=web,spec.nodeName!=".parse().unwrap();
//! let pod = BTreeMap::from([
//!     ("metadata.name".to_string(), "web".to_string()),
//!     ("spec.nodeName".to_string(), "node-1".to_string()),
//! ]);
//! assert!(fields.matches(&pod));
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use crate::meta::LabelSelector;

/// Why a selector or requirement is invalid. The messages are apimachinery's.
///
/// None of these is retryable: the selector has to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A label selector string that does not parse or holds an invalid requirement
    /// (`unable to parse requirement: …`, `found ',', expected: identifier after ','`).
    #[error("{0}")]
    Parse(String),
    /// A requirement that fails validation, as apimachinery's aggregated field errors
    /// (`values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be
    /// empty`).
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists` and `DoesNotExist`.
    #[error("{0:?} is not a valid label selector operator")]
    InvalidOperator(String),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole field selector.
        selector: String,
        /// The term that has no operator.
        term: String,
    },
    /// A backslash in a field selector value not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscapeSequence(String),
    /// An unescaped `,` or `=` in a field selector value (apimachinery prints its code point).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a requirement relates a key to its values (`selection.Operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key in (a,b)`: the label exists and has one of the values.
    In,
    /// `key notin (a,b)`: the label is missing or has none of the values.
    NotIn,
    /// `key=a`: the label exists with the value.
    Equals,
    /// `key==a`: the same as [`Operator::Equals`], printed with `==`.
    DoubleEquals,
    /// `key!=a`: the label is missing or has another value.
    NotEquals,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label does not exist.
    DoesNotExist,
    /// `key>1`: the label is an integer greater than the value.
    #[doc(alias = "Gt")]
    GreaterThan,
    /// `key<1`: the label is an integer less than the value.
    #[doc(alias = "Lt")]
    LessThan,
}

impl Operator {
    /// apimachinery's spelling (`in`, `notin`, `=`, `==`, `!=`, `exists`, `!`, `gt`, `lt`).
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

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of labels a [`Selector`] can match (`labels.Labels`).
pub trait Labels {
    /// The value of the label `key`, if present.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// No labels at all (`metadata.labels` absent).
impl<L: Labels> Labels for Option<L> {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_ref().and_then(|l| l.label(key))
    }
}

impl<L: Labels + ?Sized> Labels for &L {
    fn label(&self, key: &str) -> Option<&str> {
        (**self).label(key)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation (apimachinery's util/validation).

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

fn regex_error(msg: &str, format: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{format}')"));
    out
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` joined by `.`
fn is_dns1123_subdomain_format(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
            }
            _ => false,
        }
    })
}

/// apimachinery's `IsDNS1123Subdomain`: the reasons `value` is not a DNS subdomain (empty when
/// it is one).
#[doc(alias = "IsDNS1123Subdomain")]
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !is_dns1123_subdomain_format(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// apimachinery's `IsQualifiedName`: the reasons `value` is not a valid label key (empty when
/// it is one). Messages start with `prefix part ` or `name part `.
#[doc(alias = "IsQualifiedName")]
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let examples = ["MyName", "my.name", "123-abc"];
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &examples)
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &examples)
        ));
    }
    errs
}

/// apimachinery's `IsValidLabelValue`: the reasons `value` is not a valid label value (empty
/// when it is one).
#[doc(alias = "IsValidLabelValue")]
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Go's `%q` for a string.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `%#v` for a `[]string` (`[]string(nil)` when empty, as `LabelSelectorAsSelector`
/// passes it).
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `field.Invalid(path, value, detail).Error()`.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// `field.ErrorList.ToAggregate().Error()`.
fn aggregate(errs: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::new();
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// Requirements and label selectors.

/// One condition of a label selector: a key, an operator and values (`labels.Requirement`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A validated requirement (apimachinery's `NewRequirement`): the key is a qualified name,
    /// `In`/`NotIn` have values, `=`/`==`/`!=` exactly one, `Exists`/`DoesNotExist` none,
    /// `>`/`<` exactly one integer, and every value is a valid label value.
    #[doc(alias = "NewRequirement")]
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement> {
        let key = key.into();
        match aggregate(requirement_errors(&key, operator, &values)) {
            Some(message) => Err(Error::InvalidRequirement(message)),
            None => Ok(Requirement {
                key,
                operator,
                values,
            }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, as given (the parser gives them sorted and deduplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy the requirement (`Requirement.Matches`). For `>` and `<` a label
    /// that is not an integer does not match.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let value = labels.label(&self.key);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(has),
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !has(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(value), [bound]) = (value, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(value), Ok(bound)) = (value.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    value > bound
                } else {
                    value < bound
                }
            }
        }
    }
}

fn requirement_errors(key: &str, operator: Operator, values: &[String]) -> Vec<String> {
    let mut errs = Vec::new();
    let key_errs = is_qualified_name(key);
    if !key_errs.is_empty() {
        errs.push(invalid("key", &go_quote(key), &key_errs.join("; ")));
    }
    let slice = || go_string_slice(values);
    match operator {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                errs.push(invalid(
                    "values",
                    &slice(),
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                errs.push(invalid(
                    "values",
                    &slice(),
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                errs.push(invalid(
                    "values",
                    &slice(),
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(invalid(
                    "values",
                    &slice(),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(invalid(
                        &format!("values[{i}]"),
                        &go_quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let value_errs = is_valid_label_value(v);
        if !value_errs.is_empty() {
            errs.push(invalid(
                &format!("values[{i}][{key}]"),
                &go_quote(v),
                &value_errs.join("; "),
            ));
        }
    }
    errs
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        f.write_str(&values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector (`labels.Selector`): requirements ANDed, or the selector that matches
/// nothing. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    /// `None` for [`Selector::nothing`]; sorted by key otherwise.
    requirements: Option<Vec<Requirement>>,
}

impl Default for Selector {
    /// The empty selector, which matches everything.
    fn default() -> Self {
        Selector::everything()
    }
}

impl Selector {
    /// The selector that matches every set of labels (`labels.Everything`, the empty string).
    #[doc(alias = "Everything")]
    pub fn everything() -> Selector {
        Selector {
            requirements: Some(Vec::new()),
        }
    }

    /// The selector that matches nothing (`labels.Nothing`, from a missing `LabelSelector`).
    /// It prints as the empty string.
    #[doc(alias = "Nothing")]
    pub fn nothing() -> Selector {
        Selector { requirements: None }
    }

    /// Parses the string syntax (`labels.Parse`); see the [module docs](self).
    #[doc(alias = "Parse")]
    pub fn parse(s: &str) -> Result<Selector> {
        let requirements = Parser::new(s).parse().map_err(Error::Parse)?;
        Ok(Selector::everything().add_all(requirements))
    }

    /// A selector requiring every `key=value` of `set` (`labels.SelectorFromSet`), without
    /// validating them; an empty set matches everything.
    #[doc(alias = "SelectorFromSet")]
    pub fn from_set(set: &BTreeMap<String, String>) -> Selector {
        let requirements = set.iter().map(|(k, v)| Requirement {
            key: k.clone(),
            operator: Operator::Equals,
            values: vec![v.clone()],
        });
        Selector::everything().add_all(requirements)
    }

    /// Like [`Selector::from_set`], validating keys and values
    /// (`labels.ValidatedSelectorFromSet`).
    #[doc(alias = "ValidatedSelectorFromSet")]
    pub fn validated_from_set(set: &BTreeMap<String, String>) -> Result<Selector> {
        let requirements = set
            .iter()
            .map(|(k, v)| Requirement::new(k.clone(), Operator::Equals, vec![v.clone()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Selector::everything().add_all(requirements))
    }

    /// `metav1.LabelSelectorAsSelector`: `None` matches nothing, an empty selector everything;
    /// see the [module docs](self#from-a-labelselector).
    #[doc(alias = "LabelSelectorAsSelector")]
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Selector> {
        match selector {
            None => Ok(Selector::nothing()),
            Some(selector) => Selector::try_from(selector),
        }
    }

    /// Adds a requirement, keeping requirements sorted by key (`Selector.Add`). Adding to
    /// [`Selector::nothing`] leaves it matching nothing.
    #[doc(alias = "Add")]
    #[must_use]
    pub fn and(self, requirement: Requirement) -> Selector {
        self.add_all([requirement])
    }

    fn add_all(mut self, requirements: impl IntoIterator<Item = Requirement>) -> Selector {
        if let Some(reqs) = &mut self.requirements {
            reqs.extend(requirements);
            reqs.sort_by(|a, b| a.key.cmp(&b.key));
        }
        self
    }

    /// Whether every requirement matches `labels`; always false for [`Selector::nothing`].
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match &self.requirements {
            None => false,
            Some(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Whether the selector does not restrict anything (`Selector.Empty`): true for
    /// [`Selector::everything`], false for [`Selector::nothing`].
    pub fn is_empty(&self) -> bool {
        self.requirements.as_ref().is_some_and(Vec::is_empty)
    }

    /// Whether this is [`Selector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.requirements.is_none()
    }

    /// The requirements, sorted by key; `None` for [`Selector::nothing`] (`Selector.Requirements`
    /// returning `selectable == false`).
    pub fn requirements(&self) -> Option<&[Requirement]> {
        self.requirements.as_deref()
    }

    /// The one value the selector requires for `label`, if it requires exactly one
    /// (`Selector.RequiresExactMatch`: `=`, `==`, or `in` with a single value).
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self
            .requirements
            .as_ref()?
            .iter()
            .find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().flatten().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector> {
        Selector::parse(s)
    }
}

impl TryFrom<&LabelSelector> for Selector {
    type Error = Error;

    /// `metav1.LabelSelectorAsSelector` for a present selector (an empty one matches
    /// everything).
    fn try_from(selector: &LabelSelector) -> Result<Selector> {
        let labels = selector.match_labels.iter().flatten();
        let expressions = selector.match_expressions.iter().flatten();
        if labels.clone().count() + expressions.clone().count() == 0 {
            return Ok(Selector::everything());
        }
        let mut requirements = Vec::new();
        for (key, value) in labels {
            requirements.push(Requirement::new(
                key.clone(),
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for expr in expressions {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(Error::InvalidOperator(other.to_string())),
            };
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(expr.key.clone(), operator, values)?);
        }
        Ok(Selector::everything().add_all(requirements))
    }
}

impl LabelSelector {
    /// This selector as a [`Selector`] (`metav1.LabelSelectorAsSelector`); an empty one
    /// matches everything. Use [`Selector::from_label_selector`] for an optional field, where
    /// a missing selector matches nothing.
    pub fn to_selector(&self) -> Result<Selector> {
        Selector::try_from(self)
    }
}

// ---------------------------------------------------------------------------------------------
// The label selector lexer and parser (apimachinery's `Lexer` and `Parser`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

fn keyword(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens, ending with `EndOfString`.
fn lex(s: &str) -> Vec<(Token, &str)> {
    let b = s.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < b.len() && is_whitespace(b[pos]) {
            pos += 1;
        }
        if pos == b.len() {
            items.push((Token::EndOfString, ""));
            return items;
        }
        let start = pos;
        if is_special(b[pos]) {
            // The longest operator: `!=` and `==` over `!` and `=`.
            let mut end = pos + 1;
            if end < b.len() && is_special(b[end]) && keyword(&s[start..=end]).is_some() {
                end += 1;
            }
            let token = keyword(&s[start..end]).expect("every special character is a token");
            items.push((token, &s[start..end]));
            pos = end;
        } else {
            while pos < b.len() && !is_special(b[pos]) && !is_whitespace(b[pos]) {
                pos += 1;
            }
            let literal = &s[start..pos];
            items.push((keyword(literal).unwrap_or(Token::Identifier), literal));
        }
    }
}

/// Whether `in` and `notin` are keywords (`KeyAndOperator`) or plain identifiers (`Values`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    position: usize,
}

type ParseResult<T> = std::result::Result<T, String>;

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            items: lex(s),
            position: 0,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        let (token, literal) = self.items[self.position.min(self.items.len() - 1)];
        match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> ParseResult<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ))
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> ParseResult<Requirement> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        let (operator, values) = match operator {
            Some(op) => (op, BTreeSet::new()),
            None => {
                let op = self.parse_operator()?;
                let values = match op {
                    Operator::In | Operator::NotIn => self.parse_values()?,
                    _ => self.parse_exact_value()?,
                };
                (op, values)
            }
        };
        let values: Vec<String> = values.into_iter().map(str::to_string).collect();
        match aggregate(requirement_errors(key, operator, &values)) {
            Some(message) => Err(message),
            None => Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            }),
        }
    }

    /// The key, with `Exists`/`DoesNotExist` when no binary operator follows.
    fn parse_key_and_infer_operator(&mut self) -> ParseResult<(&'a str, Option<Operator>)> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let errs = is_qualified_name(literal);
        if !errs.is_empty() {
            // apimachinery validates with a nil field path here, which prints as `<nil>`.
            return Err(invalid("<nil>", &go_quote(literal), &errs.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> ParseResult<Operator> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// `( value, value, … )`
    fn parse_values(&mut self) -> ParseResult<BTreeSet<&'a str>> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([""]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// A comma-separated list of possibly empty identifiers.
    fn parse_identifiers_list(&mut self) -> ParseResult<BTreeSet<&'a str>> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(""); // `(,`
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(""); // `,)`
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(""); // `,,`
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<` (empty before `,` or the end).
    fn parse_exact_value(&mut self) -> ParseResult<BTreeSet<&'a str>> {
        let (token, _) = self.lookahead(Context::Values);
        if token == Token::EndOfString || token == Token::Comma {
            return Ok(BTreeSet::from([""]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field selectors.

/// A set of fields a [`FieldSelector`] can match (`fields.Fields`); a missing field reads as
/// the empty string.
pub trait Fields {
    /// The value of `field` (`metadata.name`, `spec.nodeName`…), if the object has it.
    fn field(&self, field: &str) -> Option<Cow<'_, str>>;
}

impl Fields for BTreeMap<String, String> {
    fn field(&self, field: &str) -> Option<Cow<'_, str>> {
        self.get(field).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl<S: BuildHasher> Fields for HashMap<String, String, S> {
    fn field(&self, field: &str) -> Option<Cow<'_, str>> {
        self.get(field).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl<F: Fields + ?Sized> Fields for &F {
    fn field(&self, field: &str) -> Option<Cow<'_, str>> {
        (**self).field(field)
    }
}

/// One term of a field selector: `field=value` or `field!=value` (`fields.Requirement`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    field: String,
    operator: Operator,
    value: String,
}

impl FieldRequirement {
    /// `field=value` (`==` parses to this too).
    pub fn equals(field: impl Into<String>, value: impl Into<String>) -> Self {
        FieldRequirement {
            field: field.into(),
            operator: Operator::Equals,
            value: value.into(),
        }
    }

    /// `field!=value`.
    pub fn not_equals(field: impl Into<String>, value: impl Into<String>) -> Self {
        FieldRequirement {
            field: field.into(),
            operator: Operator::NotEquals,
            value: value.into(),
        }
    }

    /// The field path (`metadata.name`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// [`Operator::Equals`] or [`Operator::NotEquals`].
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The value, unescaped.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn matches_value(&self, actual: Option<&str>) -> bool {
        let equal = actual.unwrap_or("") == self.value;
        if self.operator == Operator::NotEquals {
            !equal
        } else {
            equal
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.operator == Operator::NotEquals {
            "!="
        } else {
            "="
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A field selector (`fields.Selector`): terms ANDed. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches everything (`fields.Everything`, the empty string).
    #[doc(alias = "Everything")]
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// Parses `a=b,c!=d` (`fields.ParseSelector`); terms are kept sorted by their text.
    #[doc(alias = "ParseSelector")]
    pub fn parse(selector: &str) -> Result<FieldSelector> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, op, value)) = split_term(term) else {
                return Err(Error::FieldTerm {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            let value = unescape_field_value(value)?;
            requirements.push(match op {
                "!=" => FieldRequirement::not_equals(field, value),
                _ => FieldRequirement::equals(field, value),
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The selector `field=value` (`fields.OneTermEqualSelector`).
    #[doc(alias = "OneTermEqualSelector")]
    pub fn one_term_equal(field: impl Into<String>, value: impl Into<String>) -> FieldSelector {
        FieldSelector {
            requirements: vec![FieldRequirement::equals(field, value)],
        }
    }

    /// A selector requiring every `field=value` of `set` (`fields.SelectorFromSet`).
    #[doc(alias = "SelectorFromSet")]
    pub fn from_set(set: &BTreeMap<String, String>) -> FieldSelector {
        let requirements = set
            .iter()
            .map(|(k, v)| FieldRequirement::equals(k, v))
            .collect();
        FieldSelector { requirements }
    }

    /// Adds a term at the end.
    #[must_use]
    pub fn and(mut self, requirement: FieldRequirement) -> FieldSelector {
        self.requirements.push(requirement);
        self
    }

    /// Whether every term matches `fields`.
    pub fn matches<F: Fields + ?Sized>(&self, fields: &F) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(fields.field(&r.field).as_deref()))
    }

    /// Whether every term matches the fields `lookup` returns.
    pub fn matches_with(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(lookup(&r.field).as_deref()))
    }

    /// Whether the selector has no terms (`Selector.Empty`).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The value the selector requires `field` to equal, if any (`Selector.RequiresExactMatch`):
    /// `metadata.name=web` lets a list become a get.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.operator == Operator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<FieldSelector> {
        FieldSelector::parse(s)
    }
}

/// Escapes `\`, `,` and `=` in a field selector value (`fields.EscapeValue`).
#[doc(alias = "EscapeValue")]
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_field_value`] (`fields.UnescapeValue`): `\\`, `\,` and `\=` are the only
/// escapes, and `,` or `=` must be escaped.
#[doc(alias = "UnescapeValue")]
pub fn unescape_field_value(value: &str) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(Error::InvalidEscapeSequence(format!("\\{e}"))),
                None => return Err(Error::InvalidEscapeSequence("\\".to_string())),
            },
            ',' | '=' => return Err(Error::UnescapedCharacter(c)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits on commas that are not escaped, keeping escapes in the terms (`splitTerms`).
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at its first operator, trying `!=`, then `==`, then `=` at each position
/// (`splitTerm`).
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
        Requirement::new(key, op, values.iter().map(|v| v.to_string()).collect())
            .unwrap_or_else(|e| panic!("{key} {op} {values:?}: {e}"))
    }

    const QNAME_REGEX: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const DNS_REGEX: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    /// Inputs that parse, and their canonical form (apimachinery's TestSelectorParse and
    /// TestSetSelectorParser).
    const GOOD: &[(&str, &str)] = &[
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("", ""),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("x= ,z= ", "x=,z="),
        ("!x", "!x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x==a", "x==a"),
        ("\rx", "x"),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            "this-is-a-dns.domain.com/key-with-dash",
        ),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
        ("x in (abc,def)", "x in (abc,def)"),
        ("x in (def,abc,abc)", "x in (abc,def)"),
        ("x in (abc,)", "x in (,abc)"),
        ("x in ()", "x in ()"),
        (
            "x notin (abc,,def),bar,z in (),w",
            "bar,w,x notin (,abc,def),z in ()",
        ),
        ("x,y in (a)", "x,y in (a)"),
        ("x=a", "x=a"),
        ("x<7", "x<7"),
        ("x=a,y!=b", "x=a,y!=b"),
        ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
        ("x notin ( )", "x notin ()"),
        ("x notin (, a)", "x notin (,a)"),
        ("a ", "a"),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
        ("notin=in", "notin=in"),
        ("in in (in)", "in in (in)"),
        ("x=a,a=x", "a=x,x=a"),
        ("z!=a,z", "z!=a,z"),
        ("z,z!=a", "z,z!=a"),
        (
            "a=b,c!=d,e in (f,g),e notin (h),!i,j",
            "a=b,c!=d,e in (f,g),e notin (h),!i,j",
        ),
        (
            " tier in ( web , api ) , env != dev ",
            "env!=dev,tier in (api,web)",
        ),
        ("example.com/app=web", "example.com/app=web"),
        (
            "app.kubernetes.io/name=A-b_c.9",
            "app.kubernetes.io/name=A-b_c.9",
        ),
    ];

    #[test]
    fn parse_good() {
        for &(input, want) in GOOD {
            let s = sel(input);
            assert_eq!(s.to_string(), want, "{input:?}");
            // The canonical form is a fixed point.
            assert_eq!(sel(want), s, "{input:?}");
            assert_eq!(sel(want).to_string(), want);
        }
        assert!(sel("").is_empty());
        assert!(!sel("x").is_empty());
    }

    /// Inputs that do not parse, with apimachinery's message.
    const BAD: &[(&str, &str)] = &[
        ("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": <VALUE>"),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x>1.5", "unable to parse requirement: values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x,,y", "found ',', expected: identifier after ','"),
        (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
        ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in (xyz),", "found '', expected: identifier after ','"),
        ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
        ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
        ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (a,(", "unable to parse requirement: found '(', expected: ',', or identifier"),
        ("x in (a b", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!!x", "unable to parse requirement: found '!', expected: identifier"),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
        ("x !", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("a:=b", "unable to parse requirement: <nil>: Invalid value: \"a:\": name part <QNAME>"),
        ("-x", "unable to parse requirement: <nil>: Invalid value: \"-x\": name part <QNAME>"),
        ("a/b/c", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name <QNAME> with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
        ("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"),
        ("a/", "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; name part <QNAME>"),
        ("Example.com/a", "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part <DNS>"),
        ("x=-a", "unable to parse requirement: values[0][x]: Invalid value: \"-a\": <VALUE>"),
        // A Gt/Lt bound must also be a valid label value, so it cannot be negative.
        ("x>-1", "unable to parse requirement: values[0][x]: Invalid value: \"-1\": <VALUE>"),
    ];

    #[test]
    fn parse_bad() {
        for &(input, want) in BAD {
            let want = want
                .replace("<QNAME>", QNAME_REGEX)
                .replace("<VALUE>", VALUE_REGEX)
                .replace("<DNS>", DNS_REGEX);
            assert_eq!(Selector::parse(input), Err(Error::Parse(want)), "{input:?}");
        }
    }

    #[test]
    fn lexer() {
        use Token::*;
        let cases: &[(&str, &[Token])] = &[
            ("", &[]),
            (",", &[Comma]),
            ("notin", &[NotIn]),
            ("in", &[In]),
            ("=", &[Equals]),
            ("==", &[DoubleEquals]),
            (">", &[GreaterThan]),
            ("<", &[LessThan]),
            ("!", &[DoesNotExist]),
            ("!=", &[NotEquals]),
            ("(", &[OpenPar]),
            (")", &[ClosedPar]),
            ("~", &[Identifier]),
            ("||", &[Identifier]),
            (
                "key in ( value )",
                &[Identifier, In, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key notin ( value )",
                &[Identifier, NotIn, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key in ( value1, value2 )",
                &[
                    Identifier, In, OpenPar, Identifier, Comma, Identifier, ClosedPar,
                ],
            ),
            ("key", &[Identifier]),
            ("!key", &[DoesNotExist, Identifier]),
            ("()", &[OpenPar, ClosedPar]),
            (
                "x in (),y",
                &[Identifier, In, OpenPar, ClosedPar, Comma, Identifier],
            ),
            (
                "== != (), = notin",
                &[
                    DoubleEquals,
                    NotEquals,
                    OpenPar,
                    ClosedPar,
                    Comma,
                    Equals,
                    NotIn,
                ],
            ),
            ("key>2", &[Identifier, GreaterThan, Identifier]),
            ("key<1", &[Identifier, LessThan, Identifier]),
            ("===", &[DoubleEquals, Equals]),
            ("!==", &[NotEquals, Equals]),
            ("!!", &[DoesNotExist, DoesNotExist]),
            ("=é", &[Equals, Identifier]),
        ];
        for &(input, want) in cases {
            let tokens: Vec<Token> = lex(input).into_iter().map(|(t, _)| t).collect();
            let mut want = want.to_vec();
            want.push(EndOfString);
            assert_eq!(tokens, want, "{input:?}");
        }
    }

    #[test]
    fn matches_table() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case] = &[
            ("", &[("x", "y")], true),
            ("x=y", &[("x", "y")], true),
            ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
            ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
            ("notin=in", &[("notin", "in")], true),
            ("x", &[("x", "z")], true),
            ("!x", &[("y", "z")], true),
            ("x>1", &[("x", "2")], true),
            ("x<1", &[("x", "0")], true),
            ("x=z", &[], false),
            ("x=y", &[("x", "z")], false),
            ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
            ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
            ("x", &[("y", "z")], false),
            ("!x", &[("x", "z")], false),
            ("x>1", &[("x", "0")], false),
            ("x<1", &[("x", "2")], false),
            ("foo=bar", &[("foo", "bar"), ("baz", "blah")], true),
            ("baz=blah", &[("foo", "bar"), ("baz", "blah")], true),
            ("foo=bar,baz=blah", &[("foo", "bar"), ("baz", "blah")], true),
            ("foo=blah", &[("foo", "bar"), ("baz", "blah")], false),
            ("baz=bar", &[("foo", "bar"), ("baz", "blah")], false),
            (
                "foo=bar,foobar=bar,baz=blah",
                &[("foo", "bar"), ("baz", "blah")],
                false,
            ),
            // TestRequirementSelectorMatching.
            (
                "x in (foo),y notin (alpha)",
                &[("x", "foo"), ("y", "baz")],
                true,
            ),
            (
                "x in (foo),y in (alpha)",
                &[("x", "foo"), ("y", "baz")],
                false,
            ),
            ("x notin (),y", &[("y", "")], true),
            ("!x,y", &[("y", "")], true),
            ("x notin (),!y", &[("y", "")], false),
            ("x in ()", &[("y", "baz")], false),
            ("x in ()", &[("x", "")], true),
            ("z>1", &[("z", "2")], true),
            ("z>1", &[("z", "v2")], false),
            ("z>1", &[], false),
            ("z<1", &[("z", "-3")], true),
            ("z>1", &[("z", "1")], false),
            ("x=", &[("x", "")], true),
            ("x=", &[], false),
            ("x!=", &[], true),
            ("x!=", &[("x", "")], false),
            ("x notin (a)", &[], true),
            ("x==a", &[("x", "a")], true),
            ("x in (a,b),!c", &[("x", "b")], true),
            ("x in (a,b),!c", &[("x", "b"), ("c", "")], false),
        ];
        for &(selector, set, want) in cases {
            let set = labels(set);
            assert_eq!(sel(selector).matches(&set), want, "{selector:?} on {set:?}");
            let hash: HashMap<String, String> = set.clone().into_iter().collect();
            assert_eq!(
                sel(selector).matches(&hash),
                want,
                "{selector:?} on {hash:?}"
            );
        }
        // No labels at all.
        let none: Option<BTreeMap<String, String>> = None;
        assert!(sel("").matches(&none));
        assert!(sel("!x").matches(&none));
        assert!(!sel("x").matches(&none));
        assert!(Selector::everything().matches(&labels(&[("x", "y")])));
        assert!(!Selector::nothing().matches(&labels(&[("x", "y")])));
        assert!(!Selector::nothing().matches(&labels(&[])));
    }

    #[test]
    fn requirement_constructor() {
        let long = "a".repeat(254);
        let cases: Vec<(&str, Operator, Vec<&str>, Option<String>)> = vec![
            ("x1", Operator::In, vec![], Some("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into())),
            ("x2", Operator::NotIn, vec![], Some("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into())),
            ("x3", Operator::In, vec!["foo"], None),
            ("x4", Operator::NotIn, vec!["foo"], None),
            ("x5", Operator::Equals, vec!["bar", "foo"], Some("values: Invalid value: []string{\"bar\", \"foo\"}: exact-match compatibility requires one single value".into())),
            ("x6", Operator::Exists, vec![], None),
            ("x7", Operator::DoesNotExist, vec![], None),
            ("x8", Operator::Exists, vec!["foo"], Some("values: Invalid value: []string{\"foo\"}: values set must be empty for exists and does not exist".into())),
            ("x9", Operator::In, vec!["bar"], None),
            ("x11", Operator::GreaterThan, vec!["1"], None),
            ("x12", Operator::LessThan, vec!["6"], None),
            ("x13", Operator::GreaterThan, vec![], Some("values: Invalid value: []string(nil): for 'Gt', 'Lt' operators, exactly one value is required".into())),
            ("x14", Operator::GreaterThan, vec!["bar"], Some("values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer".into())),
            ("x15", Operator::LessThan, vec!["bar"], Some("values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer".into())),
            (&long, Operator::Exists, vec![], Some(format!("key: Invalid value: \"{long}\": name part must be no more than 63 characters"))),
            ("x16", Operator::Equals, vec![&long], Some(format!("values[0][x16]: Invalid value: \"{long}\": must be no more than 63 characters"))),
            ("x17", Operator::Equals, vec!["a b"], Some(format!("values[0][x17]: Invalid value: \"a b\": {VALUE_REGEX}"))),
            ("1foo", Operator::In, vec!["bar"], None),
            ("1234", Operator::In, vec!["bar"], None),
            (
                "-k",
                Operator::In,
                vec![],
                Some(format!(
                    "[key: Invalid value: \"-k\": name part {QNAME_REGEX}, values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty]"
                )),
            ),
        ];
        for (key, op, values, want) in cases {
            let values: Vec<String> = values.into_iter().map(String::from).collect();
            let got = Requirement::new(key, op, values.clone());
            match want {
                None => assert_eq!(got.map(|r| r.values().to_vec()), Ok(values), "{key} {op}"),
                Some(want) => assert_eq!(got, Err(Error::InvalidRequirement(want)), "{key} {op}"),
            }
        }
    }

    #[test]
    fn qualified_names_and_values() {
        let long_prefix = format!("{}.com", "a".repeat(250));
        let cases: Vec<(String, Vec<String>)> = vec![
            ("simple".into(), vec![]),
            ("now-with-dashes".into(), vec![]),
            ("1-starts-with-num".into(), vec![]),
            ("1234".into(), vec![]),
            ("simple/simple".into(), vec![]),
            ("now-with-dashes/simple".into(), vec![]),
            ("now-with-dashes/now-with-dashes".into(), vec![]),
            ("now.with.dots/simple".into(), vec![]),
            ("now-with.dashes-and.dots/simple".into(), vec![]),
            ("1-num.2-num/3-num".into(), vec![]),
            ("1234/5678".into(), vec![]),
            ("1.2.3.4/5678".into(), vec![]),
            ("Uppercase_Is_OK_123".into(), vec![]),
            ("example.com/Uppercase_Is_OK_123".into(), vec![]),
            ("requests.storage-foo".into(), vec![]),
            (format!("{}/{}", "a".repeat(63), "b".repeat(63)), vec![]),
            ("nospecialchars%^=@".into(), vec![format!("name part {QNAME_REGEX}")]),
            ("cantendwithadash-".into(), vec![format!("name part {QNAME_REGEX}")]),
            ("-cantstartwithadash-".into(), vec![format!("name part {QNAME_REGEX}")]),
            ("only/one/slash".into(), vec![format!("a qualified name {QNAME_REGEX} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]),
            ("Example.com/abc".into(), vec![format!("prefix part {DNS_REGEX}")]),
            ("example_com/abc".into(), vec![format!("prefix part {DNS_REGEX}")]),
            ("example.com/".into(), vec!["name part must be non-empty".into(), format!("name part {QNAME_REGEX}")]),
            ("/simple".into(), vec!["prefix part must be non-empty".into()]),
            ("".into(), vec!["name part must be non-empty".into(), format!("name part {QNAME_REGEX}")]),
            ("a".repeat(64), vec!["name part must be no more than 63 characters".into()]),
            (format!("{long_prefix}/a"), vec!["prefix part must be no more than 253 characters".into()]),
        ];
        for (name, want) in cases {
            assert_eq!(is_qualified_name(&name), want, "{name:?}");
        }
        for ok in [
            "",
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "end-with-num-1",
            "1234",
            "a.b_c-D",
            &"a".repeat(63),
        ] {
            assert_eq!(is_valid_label_value(ok), Vec::<String>::new(), "{ok:?}");
        }
        for bad in [
            "nospecialchars%^=@",
            "Tama-nui-te-rā.is.Māori.sun",
            "\\backslashes\\are\\bad",
            "-starts-with-dash",
            "ends-with-dash-",
            ".starts.with.dot",
            "ends.with.dot.",
            "a b",
        ] {
            assert_eq!(
                is_valid_label_value(bad),
                vec![VALUE_REGEX.to_string()],
                "{bad:?}"
            );
        }
        assert_eq!(
            is_valid_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
        assert_eq!(is_dns1123_subdomain("example.com"), Vec::<String>::new());
        assert_eq!(is_dns1123_subdomain("a..b"), vec![DNS_REGEX.to_string()]);
    }

    #[test]
    fn to_string_table() {
        let cases = [
            (
                vec![
                    req("x", Operator::In, &["abc", "def"]),
                    req("y", Operator::NotIn, &["jkl"]),
                    req("z", Operator::Exists, &[]),
                ],
                "x in (abc,def),y notin (jkl),z",
            ),
            (
                vec![
                    req("x", Operator::NotIn, &["abc", "def"]),
                    req("y", Operator::NotEquals, &["jkl"]),
                    req("z", Operator::DoesNotExist, &[]),
                ],
                "x notin (abc,def),y!=jkl,!z",
            ),
            (
                vec![
                    req("x", Operator::NotIn, &["abc"]),
                    req("y", Operator::In, &["jkl", "mno"]),
                    req("z", Operator::NotIn, &[""]),
                ],
                "x notin (abc),y in (jkl,mno),z notin ()",
            ),
            (
                vec![
                    req("x", Operator::Equals, &["abc"]),
                    req("y", Operator::DoubleEquals, &["jkl"]),
                    req("z", Operator::NotEquals, &["a"]),
                    req("z", Operator::Exists, &[]),
                ],
                "x=abc,y==jkl,z!=a,z",
            ),
            (
                vec![
                    req("x", Operator::GreaterThan, &["2"]),
                    req("y", Operator::LessThan, &["8"]),
                    req("z", Operator::Exists, &[]),
                ],
                "x>2,y<8,z",
            ),
            // Values print sorted (not deduplicated), requirements sorted by key.
            (
                vec![
                    req("b", Operator::In, &["z", "a", "z"]),
                    req("a", Operator::Exists, &[]),
                ],
                "a,b in (a,z,z)",
            ),
        ];
        for (requirements, want) in cases {
            let s = requirements
                .into_iter()
                .fold(Selector::everything(), Selector::and);
            assert_eq!(s.to_string(), want);
        }
        assert_eq!(Selector::nothing().to_string(), "");
        assert_eq!(
            Selector::nothing().and(req("x", Operator::Exists, &[])),
            Selector::nothing()
        );
    }

    #[test]
    fn from_set() {
        assert_eq!(Selector::from_set(&labels(&[])).to_string(), "");
        assert!(Selector::from_set(&labels(&[])).is_empty());
        assert_eq!(
            Selector::from_set(&labels(&[("app", "foo"), ("a", "b")])).to_string(),
            "a=b,app=foo"
        );
        let set = labels(&[("foo", "bar"), ("baz", "blah")]);
        for subset in [
            &[][..],
            &[("foo", "bar")],
            &[("baz", "blah")],
            &[("foo", "bar"), ("baz", "blah")],
        ] {
            assert!(
                Selector::from_set(&labels(subset)).matches(&set),
                "{subset:?}"
            );
        }
        assert!(!Selector::from_set(&labels(&[("foo", "=blah")])).matches(&set));
        assert!(Selector::validated_from_set(&labels(&[("key", "val")])).is_ok());
        let long = "axahm2EJ8Phiephe2eixohbee9eGeiyees1thuozi1xoh0GiuH3diewi8iem7Nui";
        assert_eq!(
            Selector::validated_from_set(&labels(&[("Key", long)])),
            Err(Error::InvalidRequirement(format!(
                "values[0][Key]: Invalid value: \"{long}\": must be no more than 63 characters"
            )))
        );
    }

    #[test]
    fn requires_exact_match() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("key in (value)", "key", Some("value")),
            ("key in (value,value2)", "key", None),
            (
                "key in (value,value1),key2 in (value2)",
                "key2",
                Some("value2"),
            ),
            ("key=value", "key", Some("value")),
            ("key==value", "key", Some("value")),
            ("key!=value", "key", None),
            ("key in (value),key2 in (value2)", "key", Some("value")),
            ("key", "key", None),
            ("", "key", None),
            ("other=x", "key", None),
        ];
        for &(selector, label, want) in cases {
            assert_eq!(
                sel(selector).requires_exact_match(label),
                want,
                "{selector:?} {label}"
            );
        }
    }

    fn expr(key: &str, operator: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn from_label_selector() {
        // A missing selector matches nothing, an empty one everything.
        let nothing = Selector::from_label_selector(None).unwrap();
        assert!(nothing.is_nothing() && !nothing.is_empty());
        assert!(!nothing.matches(&labels(&[])));
        let empty = LabelSelector::default();
        let everything = Selector::from_label_selector(Some(&empty)).unwrap();
        assert!(everything.is_empty() && everything.matches(&labels(&[("a", "b")])));
        let empty_lists = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            match_expressions: Some(vec![]),
        };
        assert!(empty_lists.to_selector().unwrap().is_empty());

        let ok: Vec<(LabelSelector, &str)> = vec![
            (
                LabelSelector {
                    match_labels: Some(labels(&[("foo", "bar"), ("baz", "blah")])),
                    match_expressions: None,
                },
                "baz=blah,foo=bar",
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("foo", "bar")])),
                    match_expressions: Some(vec![
                        expr("tier", "In", Some(&["web", "api"])),
                        expr("env", "NotIn", Some(&["dev"])),
                        expr("canary", "DoesNotExist", None),
                        expr("app", "Exists", Some(&[])),
                    ]),
                },
                "app,!canary,env notin (dev),foo=bar,tier in (api,web)",
            ),
            (
                LabelSelector {
                    match_labels: None,
                    match_expressions: Some(vec![expr("x", "In", Some(&[""]))]),
                },
                "x in ()",
            ),
        ];
        for (ls, want) in ok {
            let s = Selector::from_label_selector(Some(&ls)).unwrap();
            assert_eq!(s.to_string(), want);
            assert_eq!(Selector::try_from(&ls).unwrap(), s);
            assert_eq!(sel(want).to_string(), want);
        }

        let bad: Vec<(LabelSelector, Error)> = vec![
            (
                LabelSelector { match_labels: None, match_expressions: Some(vec![expr("name", "Seriously", None)]) },
                Error::InvalidOperator("Seriously".into()),
            ),
            (
                LabelSelector { match_labels: None, match_expressions: Some(vec![expr("name", "in", Some(&["a"]))]) },
                Error::InvalidOperator("in".into()),
            ),
            (
                LabelSelector { match_labels: None, match_expressions: Some(vec![expr("thisns", "In", None)]) },
                Error::InvalidRequirement("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into()),
            ),
            (
                LabelSelector { match_labels: None, match_expressions: Some(vec![expr("x", "NotIn", Some(&[]))]) },
                Error::InvalidRequirement("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into()),
            ),
            (
                LabelSelector { match_labels: None, match_expressions: Some(vec![expr("x", "Exists", Some(&["a", "b"]))]) },
                Error::InvalidRequirement("values: Invalid value: []string{\"a\", \"b\"}: values set must be empty for exists and does not exist".into()),
            ),
            (
                LabelSelector { match_labels: Some(labels(&[("a b", "c")])), match_expressions: None },
                Error::InvalidRequirement(format!("key: Invalid value: \"a b\": name part {QNAME_REGEX}")),
            ),
            (
                LabelSelector { match_labels: Some(labels(&[("a", "-c")])), match_expressions: None },
                Error::InvalidRequirement(format!("values[0][a]: Invalid value: \"-c\": {VALUE_REGEX}")),
            ),
        ];
        for (ls, want) in bad {
            assert_eq!(
                Selector::from_label_selector(Some(&ls)),
                Err(want.clone()),
                "{ls:?}"
            );
        }
        assert_eq!(
            Error::InvalidOperator("Seriously".into()).to_string(),
            "\"Seriously\" is not a valid label selector operator"
        );

        // Round trip through JSON, as it appears in a Deployment spec.
        let ls: LabelSelector = serde_json::from_str(
            r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["fe"]}]}"#,
        )
        .unwrap();
        let s = ls.to_selector().unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (fe)");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    proptest::proptest! {
        #[test]
        fn label_parse_format_is_stable(input in "[a-c =!(),<>1]{0,24}|(in|notin|[a-c]| |,|=|!|\\(|\\)){0,12}") {
            if let Ok(s) = Selector::parse(&input) {
                let text = s.to_string();
                let again = Selector::parse(&text).unwrap();
                proptest::prop_assert_eq!(again.to_string(), text.clone(), "{:?}", input);
                let set = labels(&[("a", "a"), ("b", "1")]);
                proptest::prop_assert_eq!(again.matches(&set), s.matches(&set), "{:?} -> {:?}", input, text);
            }
        }

        #[test]
        fn field_parse_format_is_stable(input in "[a-c=!,\\\\]{0,16}", other in "\\PC{0,16}") {
            for input in [input, other] {
                if let Ok(s) = FieldSelector::parse(&input) {
                    let text = s.to_string();
                    let again = FieldSelector::parse(&text).unwrap();
                    // apimachinery sorts the raw terms, so `a==c,a=b` prints `a=c,a=b` and
                    // reparses in the other order: same terms, stable from the second round.
                    let sorted = |s: &FieldSelector| {
                        let mut terms: Vec<String> = s.requirements().iter().map(ToString::to_string).collect();
                        terms.sort();
                        terms
                    };
                    proptest::prop_assert_eq!(sorted(&again), sorted(&s), "{:?} -> {:?}", input, text);
                    let text2 = again.to_string();
                    proptest::prop_assert_eq!(FieldSelector::parse(&text2).unwrap().to_string(), text2);
                }
            }
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,30}") {
            let _ = Selector::parse(&input);
            let _ = FieldSelector::parse(&input);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Field selectors.

    fn fsel(s: &str) -> FieldSelector {
        FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn field_split_terms() {
        let cases: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a=avalue", &["a=avalue"]),
            ("a=avalue,b=bvalue", &["a=avalue", "b=bvalue"]),
            (
                "a=avalue,b==bvalue,c!=cvalue",
                &["a=avalue", "b==bvalue", "c!=cvalue"],
            ),
            ("", &[]),
            ("a=a,", &["a=a", ""]),
            (",a=a", &["", "a=a"]),
            (r"k=\,,k2=v2", &[r"k=\,", "k2=v2"]),
            (r"k=\\,k2=v2", &[r"k=\\", "k2=v2"]),
            (r"k=\\\,,k2=v2", &[r"k=\\\,", "k2=v2"]),
            (r"k=\a\b\", &[r"k=\a\b\"]),
            (r"k=\", &[r"k=\"]),
            ("함=수,목=록", &["함=수", "목=록"]),
        ];
        for &(input, want) in cases {
            assert_eq!(split_terms(input), want, "{input:?}");
        }
    }

    #[test]
    fn field_split_term() {
        type Case<'a> = (&'a str, Option<(&'a str, &'a str, &'a str)>);
        let cases: &[Case] = &[
            ("a=value", Some(("a", "=", "value"))),
            ("b==value", Some(("b", "==", "value"))),
            ("c!=value", Some(("c", "!=", "value"))),
            ("", None),
            ("a", None),
            (r"k=\,", Some(("k", "=", r"\,"))),
            (r"k=\=", Some(("k", "=", r"\="))),
            (r"k=\\\a\b\=\,\", Some(("k", "=", r"\\\a\b\=\,\"))),
            ("함=수", Some(("함", "=", "수"))),
            ("a!b=c", Some(("a!b", "=", "c"))),
        ];
        for &(input, want) in cases {
            assert_eq!(split_term(input), want, "{input:?}");
        }
    }

    #[test]
    fn field_escaping() {
        for (raw, escaped) in [
            ("", ""),
            ("a", "a"),
            ("=", r"\="),
            (",", r"\,"),
            (r"\", r"\\"),
            (r"\=\,\", r"\\\=\\\,\\"),
            ("a!b", "a!b"),
        ] {
            assert_eq!(escape_field_value(raw), escaped, "{raw:?}");
            assert_eq!(
                unescape_field_value(escaped).as_deref(),
                Ok(raw),
                "{escaped:?}"
            );
        }
        for (input, want) in [
            (r"\", Error::InvalidEscapeSequence(r"\".into())),
            (r"\\\", Error::InvalidEscapeSequence(r"\".into())),
            (r"\a", Error::InvalidEscapeSequence(r"\a".into())),
            (r"\!", Error::InvalidEscapeSequence(r"\!".into())),
            ("a=b", Error::UnescapedCharacter('=')),
            ("a,b", Error::UnescapedCharacter(',')),
        ] {
            assert_eq!(unescape_field_value(input), Err(want), "{input:?}");
        }
        assert_eq!(
            Error::UnescapedCharacter('=').to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            Error::InvalidEscapeSequence(r"\a".into()).to_string(),
            r"invalid field selector: invalid escape sequence: \a"
        );
    }

    #[test]
    fn field_parse() {
        let good: &[(&str, &str)] = &[
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("", ""),
            ("x!=a,y=b", "x!=a,y=b"),
            (r"x=a||y\=b", r"x=a||y\=b"),
            (r"x=a\=\=b", r"x=a\=\=b"),
            ("x==a", "x=a"),
            ("y=b,x=a", "x=a,y=b"),
            ("x=a,a=x", "a=x,x=a"),
            (",x=a,", "x=a"),
            (
                "metadata.name=web,spec.nodeName!=",
                "metadata.name=web,spec.nodeName!=",
            ),
            (
                "involvedObject.name=p1,involvedObject.namespace=default",
                "involvedObject.name=p1,involvedObject.namespace=default",
            ),
            (r"k=\,,k2=v2", r"k2=v2,k=\,"),
            ("a!b=c", "a!b=c"),
            ("x= a b ", "x= a b "),
        ];
        for &(input, want) in good {
            let s = fsel(input);
            assert_eq!(s.to_string(), want, "{input:?}");
            assert_eq!(fsel(want).to_string(), want);
        }
        // apimachinery sorts the raw terms: `==` sorts before `=b`, and prints as `=`.
        assert_eq!(fsel("a==c,a=b").to_string(), "a=c,a=b");
        assert_eq!(fsel("a=c,a=b").to_string(), "a=b,a=c");
        let bad: &[(&str, Error)] = &[
            ("x=a||y=b", Error::UnescapedCharacter('=')),
            ("x==a==b", Error::UnescapedCharacter('=')),
            (
                "x=a,b",
                Error::FieldTerm {
                    selector: "x=a,b".into(),
                    term: "b".into(),
                },
            ),
            (
                "x in (a)",
                Error::FieldTerm {
                    selector: "x in (a)".into(),
                    term: "x in (a)".into(),
                },
            ),
            (
                "x in (a,b,c)",
                Error::FieldTerm {
                    selector: "x in (a,b,c)".into(),
                    term: "b".into(),
                },
            ),
            (
                "x",
                Error::FieldTerm {
                    selector: "x".into(),
                    term: "x".into(),
                },
            ),
            (r"x=\a", Error::InvalidEscapeSequence(r"\a".into())),
        ];
        for (input, want) in bad {
            assert_eq!(FieldSelector::parse(input).as_ref(), Err(want), "{input:?}");
        }
        assert_eq!(
            FieldSelector::parse("x").unwrap_err().to_string(),
            "invalid selector: 'x'; can't understand 'x'"
        );
    }

    #[test]
    fn field_matches() {
        let fields = labels(&[("foo", "bar"), ("baz", "blah"), ("complex", r"=value\,\")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("foo=bar", true),
            ("baz=blah", true),
            ("foo=bar,baz=blah", true),
            (r"foo=bar,baz=blah,complex=\=value\\\,\\", true),
            ("foo=blah", false),
            ("baz=bar", false),
            ("foo=bar,foobar=bar,baz=blah", false),
            ("foo!=bar", false),
            ("foo!=blah", true),
            ("missing=", true),
            ("missing!=", false),
            ("missing!=x", true),
            ("foo==bar", true),
        ];
        for &(selector, want) in cases {
            assert_eq!(fsel(selector).matches(&fields), want, "{selector:?}");
            assert_eq!(
                fsel(selector).matches_with(|f| fields.get(f).cloned()),
                want,
                "{selector:?}"
            );
        }
        let set = labels(&[("x", "y"), ("z", "w")]);
        for (selector, want) in [
            ("x=y", true),
            ("x=y,z=w", true),
            ("x!=y,z!=w", false),
            ("notin=in", false),
        ] {
            assert_eq!(fsel(selector).matches(&set), want, "{selector:?}");
        }
        assert!(FieldSelector::one_term_equal("x", "y").matches(&labels(&[("x", "y")])));
        assert!(!FieldSelector::one_term_equal("x", "y").matches(&labels(&[("x", "z")])));
        assert!(FieldSelector::everything().matches(&labels(&[("x", "y")])));
        assert!(FieldSelector::everything().is_empty());
        assert!(!fsel("a=b").is_empty());
        let from_set = FieldSelector::from_set(&labels(&[("foo", "=blah")]));
        assert!(!from_set.matches(&fields));
        assert_eq!(from_set.to_string(), r"foo=\=blah");
        let s = FieldSelector::everything()
            .and(FieldRequirement::not_equals("status.phase", "Succeeded"));
        assert_eq!(s.to_string(), "status.phase!=Succeeded");
        assert_eq!(s.requirements()[0].operator(), Operator::NotEquals);
        assert_eq!(s.requirements()[0].field(), "status.phase");
        assert_eq!(s.requirements()[0].value(), "Succeeded");
    }

    #[test]
    fn field_requires_exact_match() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("", "test", None),
            ("a=b", "test", None),
            ("test=b", "test", Some("b")),
            ("test=", "test", Some("")),
            ("test!=b", "test", None),
            ("test!=", "test", None),
            ("a=,test=b", "test", Some("b")),
            (
                "metadata.name=web,metadata.namespace=default",
                "metadata.name",
                Some("web"),
            ),
        ];
        for &(selector, field, want) in cases {
            assert_eq!(
                fsel(selector).requires_exact_match(field),
                want,
                "{selector:?}"
            );
        }
    }
}
