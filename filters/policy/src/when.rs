//! `when` conditions: CEL compiled at load by the `cel` crate, and the common shapes (field
//! paths, comparisons, string tests, `in`, `has`, `size`, `matches`, `!`, `&&`, `||`, `?:`)
//! also lowered to a native tree that evaluates without the interpreter's per-call name
//! resolution. Whenever the native tree is not sure it would give the interpreter's answer
//! (a float, mixed types, a shape it does not know), it defers and the interpreter decides, so
//! the two never disagree (checked by a differential property test).

use crate::compile::CEL_VARIABLES;
use cel::common::ast::{operators, CallExpr, Expr, IdedExpr, LiteralValue};
use regex::Regex;
use serde_json::Value;

/// Fields of the `request` variable, each held in a slot of its own so that `request.method`
/// costs no lookup.
const REQUEST_FIELDS: [&str; 5] = ["method", "host", "path", "query", "headers"];

/// The values of the CEL variables for one request: the fields of `request`, then the other
/// variables in [`CEL_VARIABLES`] order.
#[derive(Debug, Clone)]
pub struct Variables {
    slots: Vec<Value>,
}

impl Variables {
    /// From each variable's value, in [`CEL_VARIABLES`] order (`request` first, an object).
    pub fn new(values: [Value; CEL_VARIABLES.len()]) -> Variables {
        let [request, others @ ..] = values;
        let mut request = match request {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let mut slots: Vec<Value> = REQUEST_FIELDS.iter().map(|f| request.remove(*f).unwrap_or(Value::Null)).collect();
        slots.extend(others);
        Variables { slots }
    }

    /// Each variable's name and value as the interpreter sees it.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, Value)> + '_ {
        let (request, others) = self.slots.split_at(REQUEST_FIELDS.len());
        let request = REQUEST_FIELDS.iter().map(|f| f.to_string()).zip(request.iter().cloned()).collect();
        let names = CEL_VARIABLES.iter().map(|(name, _)| *name);
        names.zip(std::iter::once(Value::Object(request)).chain(others.iter().cloned()))
    }
}

/// The slot of a variable other than `request`.
fn slot_of(variable: &str) -> Option<usize> {
    let position = CEL_VARIABLES.iter().position(|(name, _)| *name == variable)?;
    (position > 0).then(|| REQUEST_FIELDS.len() + position - 1)
}

/// A condition that failed to evaluate or did not yield a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotEvaluated;

/// A compiled `when` condition.
pub struct When {
    program: cel::Program,
    native: Option<Node>,
}

impl When {
    /// Compiles `source` in `env` and lowers what it can; a CEL syntax error is returned.
    pub fn compile(env: &cel::Env, source: &str) -> Result<When, cel::ParseErrors> {
        let program = env.compile(source)?;
        let native = lower(program.expression());
        Ok(When { program, native })
    }

    /// The interpreted program (for its references).
    pub fn program(&self) -> &cel::Program {
        &self.program
    }

    /// Whether the condition runs natively (no interpreter unless a value surprises it).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// Evaluates the condition: `Ok(bool)`, or `Err(NotEvaluated)` for an evaluation error or a result
    /// that is not a boolean. `context` builds the interpreter's context when it is needed.
    pub fn evaluate<'c>(
        &self,
        variables: &Variables,
        context: impl FnOnce() -> &'c cel::Context<'static, 'static>,
    ) -> Result<bool, NotEvaluated> {
        if let Some(native) = &self.native {
            match native.eval(variables) {
                Ok(out) => return out.as_bool().ok_or(NotEvaluated),
                Err(Fault::Error) => return Err(NotEvaluated),
                Err(Fault::Unsure) => {}
            }
        }
        match self.program.execute(context()) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            _ => Err(NotEvaluated),
        }
    }

    /// The native answer alone (`None`: it would defer). For tests.
    #[doc(hidden)]
    pub fn evaluate_natively(&self, variables: &Variables) -> Option<Result<bool, NotEvaluated>> {
        match self.native.as_ref()?.eval(variables) {
            Ok(out) => Some(out.as_bool().ok_or(NotEvaluated)),
            Err(Fault::Error) => Some(Err(NotEvaluated)),
            Err(Fault::Unsure) => None,
        }
    }
}

/// Why the native tree has no value: a CEL evaluation error, or a case it leaves to the
/// interpreter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Error,
    Unsure,
}

/// A value during native evaluation.
#[derive(Debug, Clone, Copy)]
enum Out<'a> {
    Json(&'a Value),
    Bool(bool),
    Int(i64),
}

impl<'a> Out<'a> {
    fn as_bool(self) -> Option<bool> {
        match self {
            Out::Bool(b) | Out::Json(&Value::Bool(b)) => Some(b),
            _ => None,
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            Out::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer (CEL int or uint); floats are left to the interpreter.
    fn as_integer(self) -> Option<i128> {
        match self {
            Out::Int(i) => Some(i as i128),
            Out::Json(Value::Number(n)) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum TextTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// The lowered condition.
#[derive(Debug)]
enum Node {
    Literal(Value),
    Variable(usize),
    /// A field `request` does not have: an error, as in the interpreter.
    Missing,
    /// Fields selected in turn from a variable: `request.headers.x_team`.
    Path(usize, Box<[String]>),
    Select(Box<Node>, String),
    Has(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Choose(Box<Node>, Box<Node>, Box<Node>),
    Compare(Compare, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Text(TextTest, Box<Node>, Box<Node>),
    Matches(Box<Node>, Regex),
    Size(Box<Node>),
}

/// Lowers an expression, or `None` if any part of it is outside the native subset.
fn lower(expr: &IdedExpr) -> Option<Node> {
    Some(match &expr.expr {
        Expr::Literal(literal) => Node::Literal(literal_value(literal)?),
        Expr::Ident(name) => Node::Variable(slot_of(name)?),
        Expr::Select(select)
            if !select.test && matches!(&select.operand.expr, Expr::Ident(name) if name == "request") =>
        {
            match REQUEST_FIELDS.iter().position(|f| *f == select.field) {
                Some(slot) => Node::Variable(slot),
                None => Node::Missing,
            }
        }
        Expr::Select(select) => {
            let operand = Box::new(lower(&select.operand)?);
            match (select.test, *operand) {
                (true, operand) => Node::Has(Box::new(operand), select.field.clone()),
                (false, Node::Variable(root)) => Node::Path(root, Box::new([select.field.clone()])),
                (false, Node::Path(root, fields)) => {
                    let mut fields = fields.into_vec();
                    fields.push(select.field.clone());
                    Node::Path(root, fields.into_boxed_slice())
                }
                (false, operand) => Node::Select(Box::new(operand), select.field.clone()),
            }
        }
        Expr::List(list) if list.optional_indices.is_empty() => {
            let items = list.elements.iter().map(|e| match &e.expr {
                Expr::Literal(l) => literal_value(l),
                _ => None,
            });
            Node::Literal(Value::Array(items.collect::<Option<_>>()?))
        }
        Expr::Call(call) => lower_call(call)?,
        _ => return None,
    })
}

fn lower_call(call: &CallExpr) -> Option<Node> {
    let arg = |i: usize| call.args.get(i).and_then(lower).map(Box::new);
    let compare = |op| Some(Node::Compare(op, arg(0)?, arg(1)?));
    let text = |test| Some(Node::Text(test, Box::new(lower(call.target.as_deref()?)?), arg(0)?));
    match (call.func_name.as_str(), call.target.is_some(), call.args.len()) {
        (operators::LOGICAL_AND, false, 2) => Some(Node::And(arg(0)?, arg(1)?)),
        (operators::LOGICAL_OR, false, 2) => Some(Node::Or(arg(0)?, arg(1)?)),
        (operators::LOGICAL_NOT, false, 1) => Some(Node::Not(arg(0)?)),
        (operators::CONDITIONAL, false, 3) => Some(Node::Choose(arg(0)?, arg(1)?, arg(2)?)),
        (operators::EQUALS, false, 2) => compare(Compare::Eq),
        (operators::NOT_EQUALS, false, 2) => compare(Compare::Ne),
        (operators::LESS, false, 2) => compare(Compare::Lt),
        (operators::LESS_EQUALS, false, 2) => compare(Compare::Le),
        (operators::GREATER, false, 2) => compare(Compare::Gt),
        (operators::GREATER_EQUALS, false, 2) => compare(Compare::Ge),
        (operators::IN, false, 2) => Some(Node::In(arg(0)?, arg(1)?)),
        (operators::INDEX, false, 2) => Some(Node::Index(arg(0)?, arg(1)?)),
        ("startsWith", true, 1) => text(TextTest::StartsWith),
        ("endsWith", true, 1) => text(TextTest::EndsWith),
        ("contains", true, 1) => text(TextTest::Contains),
        ("size", true, 0) => Some(Node::Size(Box::new(lower(call.target.as_deref()?)?))),
        ("size", false, 1) => Some(Node::Size(arg(0)?)),
        ("matches", true, 1) => {
            let Expr::Literal(LiteralValue::String(pattern)) = &call.args.first()?.expr else { return None };
            // An invalid pattern is the interpreter's error to report, at evaluation.
            let regex = Regex::new(pattern.inner()).ok()?;
            Some(Node::Matches(Box::new(lower(call.target.as_deref()?)?), regex))
        }
        _ => None,
    }
}

/// A literal the native tree handles: null, bool, int, string (not uint, double or bytes).
fn literal_value(literal: &LiteralValue) -> Option<Value> {
    match literal {
        LiteralValue::Null => Some(Value::Null),
        LiteralValue::Boolean(b) => Some(Value::Bool(*b.inner())),
        LiteralValue::Int(i) => Some(Value::from(*i.inner())),
        LiteralValue::String(s) => Some(Value::String(s.inner().to_string())),
        _ => None,
    }
}

type Eval<'a> = Result<Out<'a>, Fault>;

impl Node {
    /// A child's value: leaves inline, the rest by recursion (most children are leaves).
    #[inline(always)]
    fn child<'a>(&'a self, variables: &'a Variables) -> Eval<'a> {
        match self {
            Node::Literal(value) => Ok(Out::Json(value)),
            Node::Variable(i) => variables.slots.get(*i).map(Out::Json).ok_or(Fault::Unsure),
            _ => self.eval(variables),
        }
    }

    fn eval<'a>(&'a self, variables: &'a Variables) -> Eval<'a> {
        match self {
            Node::Literal(value) => Ok(Out::Json(value)),
            Node::Missing => Err(Fault::Error),
            Node::Variable(i) => variables.slots.get(*i).map(Out::Json).ok_or(Fault::Unsure),
            Node::Path(root, fields) => {
                let mut value = variables.slots.get(*root).ok_or(Fault::Unsure)?;
                for field in fields.iter() {
                    value = select(value, field)?;
                }
                Ok(Out::Json(value))
            }
            Node::Select(operand, field) => match operand.child(variables)? {
                Out::Json(value) => select(value, field).map(Out::Json),
                _ => Err(Fault::Unsure),
            },
            Node::Has(operand, field) => match operand.child(variables)? {
                Out::Json(Value::Object(map)) => Ok(Out::Bool(map.contains_key(field))),
                _ => Err(Fault::Unsure),
            },
            Node::Index(operand, key) => index(operand.child(variables)?, key.child(variables)?),
            Node::Not(operand) => Ok(Out::Bool(!boolean(operand.child(variables))?)),
            Node::And(left, right) => logic(left, right, false, variables),
            Node::Or(left, right) => logic(left, right, true, variables),
            Node::Choose(condition, yes, no) => match boolean(condition.child(variables))? {
                true => yes.child(variables),
                false => no.child(variables),
            },
            Node::Compare(op, left, right) => compare(*op, left.child(variables)?, right.child(variables)?),
            Node::In(item, collection) => contains(collection.child(variables)?, item.child(variables)?),
            Node::Text(test, target, arg) => {
                let (Some(target), Some(arg)) = (target.child(variables)?.as_str(), arg.child(variables)?.as_str())
                else {
                    return Err(Fault::Unsure);
                };
                Ok(Out::Bool(match test {
                    TextTest::StartsWith => target.starts_with(arg),
                    TextTest::EndsWith => target.ends_with(arg),
                    TextTest::Contains => target.contains(arg),
                }))
            }
            Node::Matches(target, regex) => match target.child(variables)?.as_str() {
                Some(text) => Ok(Out::Bool(regex.is_match(text))),
                None => Err(Fault::Unsure),
            },
            Node::Size(operand) => match operand.child(variables)? {
                Out::Json(Value::String(s)) => Ok(Out::Int(s.chars().count() as i64)),
                Out::Json(Value::Array(items)) => Ok(Out::Int(items.len() as i64)),
                Out::Json(Value::Object(map)) => Ok(Out::Int(map.len() as i64)),
                _ => Err(Fault::Unsure),
            },
        }
    }
}

/// A field of a map; a missing field, or a field of null (no identity, no body), is an error
/// as in the interpreter.
fn select<'a>(value: &'a Value, field: &str) -> Result<&'a Value, Fault> {
    match value {
        Value::Object(map) => map.get(field).ok_or(Fault::Error),
        Value::Null => Err(Fault::Error),
        _ => Err(Fault::Unsure),
    }
}

/// A boolean operand of `!` or `?:`; any other value is left to the interpreter.
fn boolean(value: Eval<'_>) -> Result<bool, Fault> {
    value?.as_bool().ok_or(Fault::Unsure)
}

/// `&&` (`short` false) and `||` (`short` true), commutative over errors as in CEL: the
/// short-circuiting value on either side wins over an error on the other.
fn logic<'a>(left: &'a Node, right: &'a Node, short: bool, variables: &'a Variables) -> Eval<'a> {
    match boolean(left.child(variables)) {
        Ok(b) if b == short => Ok(Out::Bool(short)),
        Ok(_) => Ok(Out::Bool(boolean(right.child(variables))?)),
        Err(Fault::Unsure) => Err(Fault::Unsure),
        Err(Fault::Error) => match boolean(right.child(variables)) {
            Ok(b) if b == short => Ok(Out::Bool(short)),
            Err(Fault::Unsure) => Err(Fault::Unsure),
            _ => Err(Fault::Error),
        },
    }
}

fn index<'a>(collection: Out<'a>, key: Out<'a>) -> Eval<'a> {
    match (collection, key) {
        (Out::Json(Value::Object(map)), Out::Json(Value::String(k))) => map.get(k).map(Out::Json).ok_or(Fault::Error),
        (Out::Json(Value::Array(items)), key) => match key.as_integer() {
            Some(i) => usize::try_from(i).ok().and_then(|i| items.get(i)).map(Out::Json).ok_or(Fault::Error),
            None => Err(Fault::Unsure),
        },
        _ => Err(Fault::Unsure),
    }
}

/// Equality of two values of the same kind; `None` for mixed or composite kinds.
fn equal(left: Out<'_>, right: Out<'_>) -> Option<bool> {
    match (left, right) {
        (Out::Json(Value::String(a)), Out::Json(Value::String(b))) => return Some(a == b),
        (Out::Json(Value::Null), Out::Json(Value::Null)) => return Some(true),
        _ => {}
    }
    if let (Some(a), Some(b)) = (left.as_bool(), right.as_bool()) {
        return Some(a == b);
    }
    match (left.as_integer(), right.as_integer()) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    }
}

fn compare<'a>(op: Compare, left: Out<'a>, right: Out<'a>) -> Eval<'a> {
    let ordering = match (op, left, right) {
        (Compare::Eq | Compare::Ne, _, _) => {
            let same = equal(left, right).ok_or(Fault::Unsure)?;
            return Ok(Out::Bool(same == matches!(op, Compare::Eq)));
        }
        (_, Out::Json(Value::String(a)), Out::Json(Value::String(b))) => a.cmp(b),
        _ => match (left.as_integer(), right.as_integer(), left.as_bool(), right.as_bool()) {
            (Some(a), Some(b), _, _) => a.cmp(&b),
            (_, _, Some(a), Some(b)) => a.cmp(&b),
            _ => return Err(Fault::Unsure),
        },
    };
    Ok(Out::Bool(match op {
        Compare::Lt => ordering.is_lt(),
        Compare::Le => ordering.is_le(),
        Compare::Gt => ordering.is_gt(),
        _ => ordering.is_ge(),
    }))
}

fn contains<'a>(collection: Out<'a>, item: Out<'a>) -> Eval<'a> {
    match collection {
        Out::Json(Value::Array(items)) => {
            for element in items {
                if equal(item, Out::Json(element)).ok_or(Fault::Unsure)? {
                    return Ok(Out::Bool(true));
                }
            }
            Ok(Out::Bool(false))
        }
        Out::Json(Value::Object(map)) => match item.as_str() {
            Some(key) => Ok(Out::Bool(map.contains_key(key))),
            None => Err(Fault::Unsure),
        },
        _ => Err(Fault::Unsure),
    }
}
