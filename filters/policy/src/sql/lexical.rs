//! The over-approximating reading of SQL text: keywords that change data, schemas or rights,
//! found in the tokens of one dialect's reading (outside strings, quoted identifiers and
//! comments, as that dialect delimits them). It cannot tell statements apart; it only says the
//! most a text may do, so the parsed reading can be checked against it.

use crate::config::SqlClassConfig as SqlClass;
use sqlparser::tokenizer::{Token, Word};

/// The most a token stream's keywords may do: its highest class, whether any keyword is
/// destructive, and the first keyword that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    /// Highest class a keyword implies (`read` when none does).
    pub class: SqlClass,
    /// A destructive keyword (DROP, TRUNCATE, ALTER, RENAME, GRANT, REVOKE) is present.
    pub destructive: bool,
    /// The keyword that raised `class` (uppercase), for the explanation.
    pub keyword: Option<String>,
}

/// Keywords that change something wherever they stand.
fn anywhere(word: &str) -> Option<(SqlClass, bool)> {
    Some(match word {
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "UPSERT" | "COPY" => (SqlClass::Write, false),
        // SQL Server needs no `;` between statements (`SELECT 1 EXEC xp_cmdshell 'dir'`), so
        // its statement words count wherever they stand; no read uses them unquoted.
        "EXEC" | "EXECUTE" | "CALL" | "WAITFOR" => (SqlClass::Write, false),
        "SHUTDOWN" | "KILL" | "DBCC" | "BACKUP" | "RESTORE" | "BULK" | "RECONFIGURE" => (SqlClass::Ddl, true),
        "CREATE" => (SqlClass::Ddl, false),
        "DROP" | "TRUNCATE" | "ALTER" | "RENAME" => (SqlClass::Ddl, true),
        "GRANT" | "REVOKE" => (SqlClass::Dcl, true),
        _ => return None,
    })
}

/// Keywords that change something when they begin a statement (elsewhere they are ordinary
/// words: `ON CONFLICT DO NOTHING`, `EXPLAIN ANALYZE`).
fn leading(word: &str) -> Option<(SqlClass, bool)> {
    Some(match word {
        "LOAD" | "LOCK" | "HANDLER" => (SqlClass::Write, false),
        "DO" | "VACUUM" | "REINDEX" | "CLUSTER" | "ATTACH" | "DETACH" | "PRAGMA" | "COMMENT" | "SECURITY"
        | "IMPORT" | "REFRESH" | "DISCARD" | "LISTEN" | "NOTIFY" | "PREPARE" | "DEALLOCATE" | "CHECKPOINT"
        | "REASSIGN" | "OPTIMIZE" | "REPAIR" | "FLUSH" | "RESET" | "INSTALL" | "UNINSTALL" => (SqlClass::Ddl, true),
        _ => return None,
    })
}

fn unquoted(token: &Token) -> Option<String> {
    match token {
        Token::Word(Word { value, quote_style: None, .. }) => Some(value.to_ascii_uppercase()),
        _ => None,
    }
}

/// Scans one dialect's tokens.
pub fn scan(tokens: &[Token]) -> Keywords {
    let mut found = Keywords { class: SqlClass::Read, destructive: false, keyword: None };
    let mut raise = |class: SqlClass, destructive: bool, word: &str| {
        if class > found.class || (destructive && !found.destructive) {
            found.keyword = Some(word.to_string());
        }
        found.class = found.class.max(class);
        found.destructive |= destructive;
    };
    let significant = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_)));
    let mut at_start = true;
    let mut previous: Option<String> = None;
    let mut pending_replace = false;
    for token in significant {
        if matches!(token, Token::SemiColon) {
            at_start = true;
            previous = None;
            pending_replace = false;
            continue;
        }
        let word = unquoted(token);
        if let Some(word) = &word {
            if let Some((class, destructive)) = anywhere(word) {
                raise(class, destructive, word);
            }
            if at_start {
                if let Some((class, destructive)) = leading(word) {
                    raise(class, destructive, word);
                }
            }
            // MySQL's `REPLACE INTO t` writes; `replace(text, a, b)` is a function.
            if pending_replace && word == "INTO" {
                raise(SqlClass::Write, false, "REPLACE INTO");
            }
            // `SELECT … INTO t` creates a table; `INSERT INTO`, `MERGE INTO` are counted above.
            let writes_into = matches!(previous.as_deref(), Some("INSERT" | "REPLACE" | "MERGE" | "UPSERT"));
            if word == "INTO" && !writes_into {
                raise(SqlClass::Ddl, false, "INTO");
            }
        }
        pending_replace = word.as_deref() == Some("REPLACE");
        previous = word;
        at_start = false;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn keywords(sql: &str) -> Keywords {
        scan(&Tokenizer::new(&GenericDialect {}, sql).tokenize().unwrap())
    }

    #[test]
    fn keywords_in_code_count_and_in_strings_and_comments_do_not() {
        assert_eq!(keywords("SELECT 'DROP TABLE x' -- DELETE\n FROM t").class, SqlClass::Read);
        assert_eq!(keywords("SELECT \"delete\" FROM t").class, SqlClass::Read);
        assert_eq!(keywords("SELECT 1; drop table t").class, SqlClass::Ddl);
        assert!(keywords("SELECT 1; drop table t").destructive);
        assert_eq!(keywords("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d").class, SqlClass::Write);
        assert_eq!(keywords("SELECT replace(name, 'a', 'b') FROM t").class, SqlClass::Read);
        assert_eq!(keywords("REPLACE INTO t VALUES (1)").class, SqlClass::Write);
        assert_eq!(keywords("INSERT INTO t VALUES (1)").class, SqlClass::Write);
        assert_eq!(keywords("SELECT * INTO copy FROM t").class, SqlClass::Ddl);
        assert_eq!(keywords("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING").class, SqlClass::Write);
        assert_eq!(keywords("DO $$ BEGIN PERFORM 1; END $$").class, SqlClass::Ddl);
        assert_eq!(keywords("GRANT ALL ON t TO x").class, SqlClass::Dcl);
    }
}
