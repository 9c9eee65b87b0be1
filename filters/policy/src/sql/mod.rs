//! SQL classification with a real parser (`sqlparser`): statement classes, destructive
//! statements and the tables touched, read as PostgreSQL, MySQL, SQLite, SQL Server and
//! generic SQL all at once, so that text each engine would read differently (string escapes,
//! nested or executable comments) cannot hide a change from any of them.
//!
//! - A statement's class is the most powerful thing anything inside it does, at any depth:
//!   writes in `WITH` clauses and subqueries, `EXPLAIN ANALYZE` (which runs its statement),
//!   `SELECT … INTO` (creates a table), row locks (`FOR UPDATE`).
//! - A read may call only functions known to be free of effects ([`functions`]); any other
//!   function makes it at least `write`, administrative ones `ddl` and destructive.
//! - Whatever is not fully understood is the most restrictive reading (`ddl`, destructive,
//!   unknown tables) with `parsed: false` and the reason: text no dialect parses, or a
//!   data-changing keyword some dialect's tokens hold that the parsed statements do not
//!   account for.

mod functions;
mod lexical;

pub use functions::PureFunctions;

use crate::config::SqlClassConfig as SqlClass;
use functions::Effect;
use sqlparser::ast::{
    visit_relations, Expr, ObjectName, ObjectNamePart, Select, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, GenericDialect, MsSqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// What a piece of SQL does.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SqlFacts {
    /// Classes of its statements (each statement counted at its most powerful).
    pub classes: BTreeSet<SqlClass>,
    /// Some statement is destructive: DROP, TRUNCATE, ALTER, GRANT/REVOKE, DELETE/UPDATE
    /// without WHERE (at any depth), or an administrative function.
    pub destructive: bool,
    /// Tables touched (lowercase, unqualified).
    pub tables: BTreeSet<String>,
    /// Whether the text was fully understood (if not, the fields above are the most
    /// restrictive reading and `reasons` says why).
    pub parsed: bool,
    /// Why the classes are what they are beyond each statement's kind: what raised a class
    /// (`calls nextval()`, `DELETE inside the statement`) or why the text was not understood.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Deepest nesting the parser accepts; deeper SQL is refused (and so most restrictive).
const RECURSION_LIMIT: usize = 50;

/// Largest text classified; longer text is the most restrictive reading.
const MAX_SQL_BYTES: usize = 256 * 1024;

/// The dialects every text is read as, with the names used in reasons.
fn dialects() -> [(&'static str, Box<dyn Dialect>); 5] {
    [
        ("generic", Box::new(GenericDialect {})),
        ("PostgreSQL", Box::new(PostgreSqlDialect {})),
        ("MySQL", Box::new(MySqlDialect {})),
        ("SQLite", Box::new(SQLiteDialect {})),
        ("SQL Server", Box::new(MsSqlDialect {})),
    ]
}

/// Classifies `text` (one or more statements separated by `;`) with the built-in functions
/// only.
pub fn classify(text: &str) -> SqlFacts {
    classify_with(text, &PureFunctions::default())
}

/// Classifies `text`, counting `functions` as free of effects.
pub fn classify_with(text: &str, functions: &PureFunctions) -> SqlFacts {
    if text.len() > MAX_SQL_BYTES {
        return unparsed(format!("longer than {MAX_SQL_BYTES} bytes"));
    }
    let mut facts = SqlFacts { parsed: true, ..SqlFacts::default() };
    let mut keywords: Option<(lexical::Keywords, &'static str)> = None;
    let mut parsed: Vec<Vec<Token>> = Vec::new();
    for (name, dialect) in dialects() {
        // A dialect whose tokenizer refuses the text is an engine that would refuse it too.
        let Ok(tokens) = Tokenizer::new(dialect.as_ref(), text).tokenize() else { continue };
        let found = lexical::scan(&tokens);
        if keywords.as_ref().is_none_or(|(k, _)| found.class > k.class || (found.destructive && !k.destructive)) {
            keywords = Some((found, name));
        }
        // A reading already parsed (the same tokens) adds nothing: one parse per reading.
        if parsed.contains(&tokens) {
            continue;
        }
        let statements = Parser::new(dialect.as_ref())
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens(tokens.clone())
            .parse_statements();
        let Ok(statements) = statements else { continue };
        if statements.is_empty() {
            continue;
        }
        parsed.push(tokens);
        for statement in &statements {
            add_statement(&mut facts, statement, functions);
        }
    }
    if parsed.is_empty() {
        return unparsed("does not parse as PostgreSQL, MySQL, SQLite, SQL Server or generic SQL".into());
    }
    if let Some((found, dialect)) = keywords {
        let most = facts.classes.iter().max().copied().unwrap_or(SqlClass::Read);
        if found.class > most || (found.destructive && !facts.destructive) {
            let keyword = found.keyword.unwrap_or_default();
            return unparsed(format!(
                "its {dialect} reading holds {keyword} outside strings and comments, which the parsed statements do not account for"
            ));
        }
    }
    facts
}

fn unparsed(reason: String) -> SqlFacts {
    SqlFacts {
        classes: BTreeSet::from([SqlClass::Ddl]),
        destructive: true,
        tables: BTreeSet::new(),
        parsed: false,
        reasons: vec![reason],
    }
}

/// Adds one top-level statement: its most powerful class, destructiveness and tables.
fn add_statement(facts: &mut SqlFacts, statement: &Statement, functions: &PureFunctions) {
    let mut inside = Inside { functions, class: SqlClass::Read, destructive: false, reasons: Vec::new(), depth: 0 };
    let _ = statement.visit(&mut inside);
    facts.classes.insert(inside.class);
    facts.destructive |= inside.destructive;
    for reason in inside.reasons {
        if !facts.reasons.contains(&reason) {
            facts.reasons.push(reason);
        }
    }
    let _ = visit_relations(statement, |name| {
        facts.tables.insert(table_name(name));
        ControlFlow::<()>::Continue(())
    });
    if let Statement::Drop { names, .. } = statement {
        facts.tables.extend(names.iter().map(table_name));
    }
}

/// Walks everything inside a statement (nested statements, queries, selects, expressions,
/// table factors), raising the statement's class to the most powerful thing it finds.
struct Inside<'f> {
    functions: &'f PureFunctions,
    class: SqlClass,
    destructive: bool,
    reasons: Vec<String>,
    /// Statements entered so far (1: the top-level one).
    depth: usize,
}

impl Inside<'_> {
    fn raise(&mut self, class: SqlClass, destructive: bool, reason: Option<String>) {
        // Every effect is said (up to eight), not only the one that raised the class first.
        if let Some(reason) = reason {
            if self.reasons.len() < 8 && !self.reasons.contains(&reason) {
                self.reasons.push(reason);
            }
        }
        self.class = self.class.max(class);
        self.destructive |= destructive;
    }

    fn call(&mut self, name: &ObjectName) {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            })
            .collect();
        match self.functions.effect(&parts) {
            Effect::Pure => {}
            Effect::Unknown => {
                self.raise(SqlClass::Write, false, Some(format!("calls {name}(), not known to be free of effects")))
            }
            Effect::Dangerous => self.raise(SqlClass::Ddl, true, Some(format!("calls {name}(), which has effects"))),
        }
    }
}

impl Visitor for Inside<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.depth += 1;
        let (class, destructive) = class_of(statement);
        let reason = (self.depth > 1).then(|| format!("{} inside the statement", statement_kind(statement)));
        self.raise(class, destructive, reason);
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, _statement: &Statement) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &sqlparser::ast::Query) -> ControlFlow<()> {
        if !query.locks.is_empty() {
            self.raise(SqlClass::Write, false, Some("locks rows (FOR UPDATE/SHARE)".into()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if select.into.is_some() {
            self.raise(SqlClass::Ddl, false, Some("SELECT … INTO creates a table".into()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            self.call(&function.name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Function { name, .. } => self.call(name),
            TableFactor::Table { name, args: Some(_), .. } => self.call(name),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The statement's keyword, for reasons (`DELETE`, `INSERT`, …).
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let word: String = text.split_whitespace().next().unwrap_or("a statement").chars().take(16).collect();
    word.to_uppercase()
}

/// The unqualified, lowercase name of a table (`public.Users` → `users`).
fn table_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_lowercase(),
        _ => name.to_string().to_lowercase(),
    }
}

/// Class of one statement on its own (what is inside it is visited separately) and whether it
/// is destructive. Statements not listed are DDL and destructive (the restrictive reading of
/// something unexpected).
fn class_of(statement: &Statement) -> (SqlClass, bool) {
    match statement {
        Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. } => (SqlClass::Read, false),
        Statement::Insert(_) | Statement::Merge(_) | Statement::Copy { .. } => (SqlClass::Write, false),
        Statement::Update(update) => (SqlClass::Write, update.selection.is_none()),
        Statement::Delete(delete) => (SqlClass::Write, delete.selection.is_none()),
        Statement::Grant(_) | Statement::Revoke(_) => (SqlClass::Dcl, true),
        Statement::CreateTable(_) | Statement::CreateView(_) | Statement::CreateIndex(_) => (SqlClass::Ddl, false),
        _ => (SqlClass::Ddl, true), // DROP, TRUNCATE, ALTER, RENAME and anything unexpected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(sql: &str) -> Vec<SqlClass> {
        classify(sql).classes.into_iter().collect()
    }

    #[test]
    fn reads_writes_ddl_and_dcl_are_told_apart() {
        assert_eq!(classes("SELECT * FROM users WHERE id = 1"), [SqlClass::Read]);
        assert_eq!(classes("INSERT INTO users (id) VALUES (1)"), [SqlClass::Write]);
        assert_eq!(classes("CREATE TABLE t (id INT)"), [SqlClass::Ddl]);
        assert_eq!(classes("GRANT SELECT ON users TO bob"), [SqlClass::Dcl]);
        assert_eq!(classes("SELECT 1; DROP TABLE users"), [SqlClass::Read, SqlClass::Ddl]);
    }

    #[test]
    fn destructive_statements_are_flagged() {
        for sql in [
            "DROP TABLE users",
            "TRUNCATE TABLE audit_log",
            "DELETE FROM users",
            "UPDATE users SET admin = true",
            "ALTER TABLE users DROP COLUMN email",
            "REVOKE ALL ON users FROM app",
            "select 1; drop table users",
        ] {
            assert!(classify(sql).destructive, "{sql}");
        }
        for sql in ["DELETE FROM users WHERE id = 7", "UPDATE users SET name = 'x' WHERE id = 7", "SELECT * FROM users"]
        {
            assert!(!classify(sql).destructive, "{sql}");
        }
    }

    #[test]
    fn tables_touched_are_listed_unqualified_and_lowercase() {
        let facts = classify("SELECT * FROM public.Users u JOIN orders o ON o.uid = u.id");
        assert_eq!(facts.tables, BTreeSet::from(["users".to_string(), "orders".to_string()]));
        assert!(classify("DROP TABLE Accounts").tables.contains("accounts"));
    }

    #[test]
    fn unparseable_text_is_the_most_restrictive_class() {
        for sql in ["DROP TABLE users; 'unterminated", "not sql at all", "", "SELECT (((((((("] {
            let facts = classify(sql);
            assert!(!facts.parsed && facts.destructive && facts.classes.contains(&SqlClass::Ddl), "{sql}");
        }
    }

    #[test]
    fn a_statement_counts_at_the_most_powerful_thing_inside_it_and_says_why() {
        let facts = classify("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d");
        assert_eq!(facts.classes, BTreeSet::from([SqlClass::Write]), "not read and write: a write");
        assert!(facts.destructive, "DELETE without WHERE, nested");
        assert!(facts.reasons.iter().any(|r| r.contains("DELETE inside")), "{:?}", facts.reasons);
        let facts = classify("SELECT nextval('orders_id_seq')");
        assert_eq!(facts.classes, BTreeSet::from([SqlClass::Write]));
        assert!(facts.reasons.iter().any(|r| r.contains("nextval")), "{:?}", facts.reasons);
        let facts = classify("SELECT pg_read_file('/etc/passwd')");
        assert!(facts.destructive && facts.classes.contains(&SqlClass::Ddl));
        assert!(classify("SELECT lower(name) FROM users").reasons.is_empty());
    }

    #[test]
    fn a_keyword_only_another_dialect_sees_makes_the_text_not_understood() {
        // MySQL runs what is inside `/*! */`; PostgreSQL nests comments, MySQL does not.
        for sql in ["SELECT 1 /*! ; DROP TABLE users */", "SELECT 1 /* /* */ ; DROP TABLE users; /* */ */"] {
            let facts = classify(sql);
            assert!(facts.destructive && facts.classes.contains(&SqlClass::Ddl), "{sql}: {facts:?}");
        }
        let facts = classify("SELECT '\\' ; DROP TABLE users; -- '");
        assert!(facts.destructive, "the standard reading ends the string at the backslash: {facts:?}");
    }

    #[test]
    fn the_policy_may_add_functions_a_read_may_call() {
        let sql = "SELECT analytics.score(id) FROM users";
        assert_eq!(classify(sql).classes, BTreeSet::from([SqlClass::Write]));
        let added = PureFunctions::with(&["analytics.score".to_string()]);
        assert_eq!(classify_with(sql, &added).classes, BTreeSet::from([SqlClass::Read]));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing_the_stack() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(!classify(&sql).parsed);
    }
}
