//! Functions a statement may call and still count as a read: built-in functions known to be
//! free of effects on data, sessions, files or other servers, listed per dialect (the list in
//! force is their union: no name below has effects in another dialect), plus what the policy's
//! `sql.pure_functions` adds. Any other function makes its statement at least `write`; the
//! functions in [`DANGEROUS`] (administration, server files, large objects, remote execution,
//! settings) make it `ddl` and destructive.

/// In every dialect: ANSI SQL's functions and those every engine here shares.
const COMMON: &[&str] = &[
    "abs",
    "avg",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "cume_dist",
    "current_date",
    "current_time",
    "current_timestamp",
    "dense_rank",
    "every",
    "exp",
    "first_value",
    "floor",
    "greatest",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "localtime",
    "localtimestamp",
    "log",
    "log10",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "min",
    "mod",
    "nth_value",
    "ntile",
    "nullif",
    "percent_rank",
    "position",
    "power",
    "rank",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "rpad",
    "rtrim",
    "sign",
    "sqrt",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "substr",
    "substring",
    "sum",
    "trim",
    "upper",
    "var_pop",
    "var_samp",
    "variance",
    "pi",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "degrees",
    "radians",
    "ascii",
    "now",
    "cast",
    "md5",
    "hex",
];

/// PostgreSQL.
const POSTGRESQL: &[&str] = &[
    "age",
    "array_agg",
    "array_append",
    "array_cat",
    "array_length",
    "array_lower",
    "array_position",
    "array_remove",
    "array_to_string",
    "array_upper",
    "bit_length",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "cbrt",
    "chr",
    "clock_timestamp",
    "date_part",
    "date_trunc",
    "decode",
    "encode",
    "format",
    "gen_random_uuid",
    "generate_series",
    "initcap",
    "isfinite",
    "json_agg",
    "json_array_elements",
    "json_array_elements_text",
    "json_build_array",
    "json_build_object",
    "json_each",
    "json_each_text",
    "json_extract_path",
    "json_extract_path_text",
    "json_object_agg",
    "json_typeof",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_object_agg",
    "jsonb_object_keys",
    "jsonb_path_query",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_strip_nulls",
    "jsonb_typeof",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "make_date",
    "make_interval",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "mode",
    "num_nonnulls",
    "num_nulls",
    "octet_length",
    "overlay",
    "percentile_cont",
    "percentile_disc",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "random",
    "regexp_count",
    "regexp_like",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_substr",
    "row_to_json",
    "scale",
    "split_part",
    "starts_with",
    "statement_timestamp",
    "string_agg",
    "string_to_array",
    "strpos",
    "timezone",
    "to_char",
    "to_date",
    "to_hex",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "transaction_timestamp",
    "translate",
    "trunc",
    "unnest",
    "width_bucket",
    "date",
    "pg_typeof",
    "array_dims",
    "string_to_table",
    "json_object",
    "jsonb_object",
    "sha256",
    "sha512",
    "uuid",
    "lcm",
    "gcd",
    "div",
    "factorial",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_slope",
    "regr_intercept",
    "bit_and",
    "bit_or",
    "xmlagg",
];

/// MySQL and MariaDB.
const MYSQL: &[&str] = &[
    "adddate",
    "addtime",
    "bin",
    "bit_count",
    "char",
    "conv",
    "convert_tz",
    "crc32",
    "curdate",
    "curtime",
    "date_add",
    "date_format",
    "date_sub",
    "datediff",
    "day",
    "dayname",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "elt",
    "field",
    "find_in_set",
    "format",
    "from_days",
    "from_unixtime",
    "group_concat",
    "hour",
    "if",
    "ifnull",
    "inet_aton",
    "inet_ntoa",
    "instr",
    "json_array",
    "json_arrayagg",
    "json_contains",
    "json_contains_path",
    "json_extract",
    "json_keys",
    "json_length",
    "json_object",
    "json_objectagg",
    "json_quote",
    "json_search",
    "json_type",
    "json_unquote",
    "json_valid",
    "last_day",
    "lcase",
    "locate",
    "makedate",
    "maketime",
    "microsecond",
    "mid",
    "minute",
    "month",
    "monthname",
    "oct",
    "quarter",
    "rand",
    "regexp_instr",
    "regexp_like",
    "regexp_replace",
    "regexp_substr",
    "second",
    "sec_to_time",
    "sha1",
    "sha2",
    "soundex",
    "space",
    "str_to_date",
    "strcmp",
    "subdate",
    "substring_index",
    "subtime",
    "sysdate",
    "time",
    "time_format",
    "time_to_sec",
    "timediff",
    "timestamp",
    "timestampadd",
    "timestampdiff",
    "to_days",
    "truncate",
    "ucase",
    "unhex",
    "unix_timestamp",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "uuid",
    "week",
    "weekday",
    "weekofyear",
    "year",
    "yearweek",
    "bit_xor",
    "any_value",
];

/// SQLite.
const SQLITE: &[&str] = &[
    "char",
    "date",
    "datetime",
    "glob",
    "group_concat",
    "ifnull",
    "iif",
    "instr",
    "json",
    "json_array",
    "json_array_length",
    "json_each",
    "json_extract",
    "json_group_array",
    "json_group_object",
    "json_object",
    "json_quote",
    "json_tree",
    "json_type",
    "json_valid",
    "julianday",
    "like",
    "likelihood",
    "likely",
    "printf",
    "quote",
    "random",
    "randomblob",
    "strftime",
    "time",
    "total",
    "typeof",
    "unicode",
    "unixepoch",
    "unlikely",
    "zeroblob",
    "format",
    "octet_length",
    "string_agg",
    "concat",
];

/// SQL Server.
const SQL_SERVER: &[&str] = &[
    "charindex",
    "choose",
    "datalength",
    "dateadd",
    "datediff",
    "datediff_big",
    "datefromparts",
    "datename",
    "datepart",
    "datetrunc",
    "day",
    "eomonth",
    "format",
    "getdate",
    "getutcdate",
    "iif",
    "isdate",
    "isnull",
    "isnumeric",
    "json_query",
    "json_value",
    "len",
    "month",
    "newid",
    "openjson",
    "patindex",
    "quotename",
    "replicate",
    "space",
    "str",
    "string_agg",
    "string_split",
    "stuff",
    "sysdatetime",
    "sysutcdatetime",
    "try_cast",
    "try_convert",
    "try_parse",
    "year",
    "checksum",
    "soundex",
    "difference",
    "translate",
    "trim",
    "isjson",
    "json_object",
    "json_array",
    "square",
    "convert",
];

/// Built-in functions with effects beyond the data read: server administration, server files,
/// large objects, other servers, settings, executing text as SQL. A call makes the statement
/// `ddl` and destructive.
pub const DANGEROUS: &[&str] = &[
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_stat_file",
    "pg_file_write",
    "pg_file_unlink",
    "pg_file_rename",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_logical_emit_message",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_from_bytea",
    "lo_put",
    "lo_create",
    "lo_creat",
    "lowrite",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_send_query",
    "set_config",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "table_to_xml",
    "cursor_to_xml",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_drop_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_import_system_collations",
    "load_file",
    "sys_exec",
    "sys_eval",
    "load_extension",
    "writefile",
    "readfile",
    "fts3_tokenizer",
    "edit",
    "openrowset",
    "opendatasource",
    "openquery",
    "openxml",
    "xp_cmdshell",
    "sp_executesql",
    "sp_oacreate",
    "sp_configure",
];

/// What a function call does to its statement's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Known to be free of effects: the statement stays what it is.
    Pure,
    /// Not known to be free of effects: at least `write`.
    Unknown,
    /// Administration, files, other servers: `ddl` and destructive.
    Dangerous,
}

/// The functions a read may call: the built-in lists and the policy's additions.
#[derive(Debug, Clone, Default)]
pub struct PureFunctions {
    /// Lowercase names (possibly `schema.name`) the policy adds.
    added: Vec<String>,
}

impl PureFunctions {
    /// The built-in lists alone.
    pub const fn none() -> Self {
        PureFunctions { added: Vec::new() }
    }

    /// The built-in lists plus `added` (names compared case-insensitively; a qualified name
    /// `schema.function` matches only that qualified call).
    pub fn with(added: &[String]) -> Self {
        let mut added: Vec<String> = added.iter().map(|name| name.to_lowercase()).collect();
        added.sort();
        added.dedup();
        PureFunctions { added }
    }

    /// What calling `parts` (the function's name, qualified or not, as written) does.
    pub fn effect(&self, parts: &[String]) -> Effect {
        let lower: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
        let full = lower.join(".");
        if self.added.binary_search(&full).is_ok() {
            return Effect::Pure;
        }
        let Some(name) = lower.last() else { return Effect::Unknown };
        if DANGEROUS.contains(&name.as_str()) {
            return Effect::Dangerous;
        }
        // An unqualified call, or one qualified by the catalog that holds the built-ins.
        let builtin_schema = match lower.as_slice() {
            [_] => true,
            [schema, _] => matches!(schema.as_str(), "pg_catalog" | "sys"),
            _ => false,
        };
        let listed = [COMMON, POSTGRESQL, MYSQL, SQLITE, SQL_SERVER].iter().any(|list| list.contains(&name.as_str()));
        if builtin_schema && listed {
            Effect::Pure
        } else {
            Effect::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(name: &str) -> Effect {
        PureFunctions::with(&["analytics.score".into(), "Mask_Email".into()])
            .effect(&name.split('.').map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn listed_functions_are_pure_others_unknown_and_admin_functions_dangerous() {
        assert_eq!(effect("lower"), Effect::Pure);
        assert_eq!(effect("COUNT"), Effect::Pure);
        assert_eq!(effect("pg_catalog.lower"), Effect::Pure);
        assert_eq!(effect("nextval"), Effect::Unknown);
        assert_eq!(effect("public.lower"), Effect::Unknown, "a schema's own lower() may do anything");
        assert_eq!(effect("pg_read_file"), Effect::Dangerous);
        assert_eq!(effect("evil.pg_read_file"), Effect::Dangerous);
        assert_eq!(effect("analytics.score"), Effect::Pure, "added by the policy");
        assert_eq!(effect("score"), Effect::Unknown, "added qualified: matches only qualified");
        assert_eq!(effect("mask_email"), Effect::Pure);
    }

    #[test]
    fn no_function_is_both_pure_and_dangerous() {
        for list in [COMMON, POSTGRESQL, MYSQL, SQLITE, SQL_SERVER] {
            for name in list.iter() {
                assert!(!DANGEROUS.contains(name), "{name}");
                assert_eq!(name.to_lowercase(), *name);
            }
        }
    }
}
