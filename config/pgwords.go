package config

// postgresReservedWords are PostgreSQL's key words that cannot name a
// database without quotes: "reserved" and "reserved (can be function or
// type)" in the PostgreSQL 17 documentation, Appendix C "SQL Key Words"
// (https://www.postgresql.org/docs/17/sql-keywords-appendix.html). Listed
// from PostgreSQL 15.18's pg_get_keywords() (catcode R and T) plus
// system_user, reserved since PostgreSQL 16. RDS refuses a DBName that is a
// word reserved by the engine (CreateDBInstance, DBName).
var postgresReservedWords = []string{
	// catcode R
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case",
	"cast", "check", "collate", "column", "constraint", "create", "current_catalog", "current_date",
	"current_role", "current_time", "current_timestamp", "current_user", "default", "deferrable",
	"desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from",
	"grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit",
	"localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing",
	"primary", "references", "returning", "select", "session_user", "some", "symmetric",
	"system_user", "table", "then", "to", "trailing", "true", "union", "unique", "user", "using",
	"variadic", "when", "where", "window", "with",
	// catcode T
	"authorization", "binary", "collation", "concurrently", "cross", "current_schema", "freeze",
	"full", "ilike", "inner", "is", "isnull", "join", "left", "like", "natural", "notnull", "outer",
	"overlaps", "right", "similar", "tablesample", "verbose",
}

// rdsReservedDatabaseNames exist in every RDS for PostgreSQL instance
// (postgres, template0, template1) or are RDS's own (rdsadmin).
var rdsReservedDatabaseNames = []string{"postgres", "rdsadmin", "template0", "template1"}
