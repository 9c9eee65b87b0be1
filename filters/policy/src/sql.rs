//! SQL classification with a real parser (`sqlparser`, generic dialect): statement classes,
//! destructive statements and the tables touched. Text that does not parse is classified as
//! the most restrictive thing it could be: DDL, destructive, touching unknown tables.

use crate::config::SqlClassConfig as SqlClass;
use sqlparser::ast::{visit_relations, ObjectName, ObjectNamePart, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// What a piece of SQL does.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SqlFacts {
    /// Classes of its statements.
    pub classes: BTreeSet<SqlClass>,
    /// Some statement is destructive: DROP, TRUNCATE, ALTER, GRANT/REVOKE, or DELETE/UPDATE
    /// without WHERE.
    pub destructive: bool,
    /// Tables touched (lowercase, unqualified).
    pub tables: BTreeSet<String>,
    /// Whether the text parsed (if not, the fields above are the most restrictive reading).
    pub parsed: bool,
}

/// Deepest nesting the parser accepts; deeper SQL is refused (and so most restrictive).
const RECURSION_LIMIT: usize = 50;

/// Classifies `text` (one or more statements separated by `;`).
pub fn classify(text: &str) -> SqlFacts {
    let parsed = Parser::new(&GenericDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_statements());
    let statements = match parsed {
        Ok(statements) if !statements.is_empty() => statements,
        _ => return unparsed(),
    };
    let mut facts = SqlFacts { parsed: true, ..SqlFacts::default() };
    for statement in &statements {
        let (class, destructive) = class_of(statement);
        facts.classes.insert(class);
        facts.destructive |= destructive;
        let _ = visit_relations(statement, |name| {
            facts.tables.insert(table_name(name));
            ControlFlow::<()>::Continue(())
        });
        if let Statement::Drop { names, .. } = statement {
            facts.tables.extend(names.iter().map(table_name));
        }
    }
    facts
}

fn unparsed() -> SqlFacts {
    SqlFacts { classes: BTreeSet::from([SqlClass::Ddl]), destructive: true, tables: BTreeSet::new(), parsed: false }
}

/// The unqualified, lowercase name of a table (`public.Users` → `users`).
fn table_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_lowercase(),
        _ => name.to_string().to_lowercase(),
    }
}

/// Class of one statement and whether it is destructive. Statements not listed are DDL (the
/// restrictive reading of something unexpected).
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
    fn deep_nesting_is_refused_not_overflowing_the_stack() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(!classify(&sql).parsed);
    }
}
