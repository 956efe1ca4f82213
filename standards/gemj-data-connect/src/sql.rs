//! The SQL a Data Connect search may run: one `SELECT` (with joins, subqueries, `UNION`,
//! grouping, ordering and limits) over the published tables only, with expressions and
//! functions from an allow-list, and `?` placeholders bound to the request's parameters.
//! Everything else is refused before any engine sees it: other statements (DDL, DML, `ATTACH`,
//! `PRAGMA`, transactions), `WITH`, table functions, unknown tables (the engine's own catalogue
//! tables among them), functions outside the allow-list (nothing that reads files, the network,
//! the clock or randomness, and nothing that builds large values), window functions, and
//! dialect extensions. A checked query is rewritten to the internal names of the tables that
//! hold the caller's rows ([`Checked::sql`]): a table referred to by its published name is
//! aliased by the name's last part, as Trino lets one write `datasets.x` for
//! `catalog.schema.datasets`.
//!
//! The check is the first of two walls: the gateway runs the rewritten query in an engine that
//! holds nothing but the rows this caller may see, read-only, under a deadline and a row cap.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, JoinOperator, ObjectName, ObjectNamePart, OrderByKind, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, SetOperator, Statement, TableAlias, TableFactor,
    TableWithJoins, UnaryOperator, Value, Visit, VisitMut, Visitor, VisitorMut,
    WildcardAdditionalOptions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// The functions a query may call (lower case): aggregates, and scalar functions over the values
/// of one row that cannot build large values.
pub const FUNCTIONS: [&str; 17] = [
    "count", "sum", "avg", "min", "max", "coalesce", "nullif", "ifnull", "lower", "upper",
    "length", "abs", "round", "substr", "trim", "ltrim", "rtrim",
];

/// Bounds on a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest query text, bytes.
    pub max_query_bytes: usize,
    /// The most table references (each `FROM` or `JOIN` of a table counts).
    pub max_table_references: usize,
    /// The most `?` parameters.
    pub max_parameters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_query_bytes: 8 * 1024,
            max_table_references: 8,
            max_parameters: 64,
        }
    }
}

/// Why a query was refused. The detail names the construct, never more of the query than the
/// caller's own identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// Longer than [`Limits::max_query_bytes`].
    #[error("the query is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Not SQL the parser reads.
    #[error("the query does not parse: {0}")]
    Syntax(String),
    /// Empty, or more than one statement.
    #[error("a search runs exactly one statement")]
    NotOneStatement,
    /// Not a `SELECT`.
    #[error("only SELECT queries run here")]
    NotAQuery,
    /// A table that is not published.
    #[error("no published table is named `{0}`: GET /tables lists them")]
    UnknownTable(String),
    /// More table references than allowed.
    #[error("the query reads more than {max} tables")]
    TooManyTables {
        /// The limit.
        max: usize,
    },
    /// A function outside the allow-list.
    #[error("the function `{0}` is not available (available: {list})", list = FUNCTIONS.join(", "))]
    Function(String),
    /// A construct outside the supported subset.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// The parameters do not match the placeholders.
    #[error("the query has {placeholders} `?` placeholders but {given} parameters were given")]
    Parameters {
        /// `?` in the query.
        placeholders: usize,
        /// Parameters in the request.
        given: usize,
    },
}

impl SqlError {
    /// The stable title of the error kind.
    #[must_use]
    pub fn title(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "Query too long",
            Self::Syntax(_) => "Query syntax error",
            Self::NotOneStatement | Self::NotAQuery => "Only one SELECT query",
            Self::UnknownTable(_) => "Unknown table",
            Self::TooManyTables { .. } => "Too many tables",
            Self::Function(_) => "Function not available",
            Self::Unsupported(_) => "Unsupported SQL",
            Self::Parameters { .. } => "Parameter count mismatch",
        }
    }
}

/// A query that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The query over the internal table names (`t0` for `published[0]`, ...).
    pub sql: String,
    /// The published tables it reads (indices into the list given to [`check`]), sorted, once
    /// each.
    pub tables: Vec<usize>,
    /// How many `?` placeholders it has.
    pub placeholders: usize,
}

/// The internal name of `published[index]`.
#[must_use]
pub fn internal_name(index: usize) -> String {
    format!("t{index}")
}

/// Checks `query` against the subset and the published table names, with `parameters` values
/// for its placeholders, and rewrites it to the internal names.
///
/// # Errors
/// [`SqlError`] naming the first thing refused.
pub fn check(
    query: &str,
    parameters: usize,
    published: &[&str],
    limits: &Limits,
) -> Result<Checked, SqlError> {
    if query.len() > limits.max_query_bytes {
        return Err(SqlError::TooLong {
            max: limits.max_query_bytes,
        });
    }
    let tokens = Tokenizer::new(&GenericDialect {}, query)
        .tokenize()
        .map_err(|e| SqlError::Syntax(e.message))?;
    if tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count()
        > MAX_TOKENS
    {
        return Err(SqlError::Unsupported("a query of more than 1,000 tokens"));
    }
    let mut statements = Parser::new(&GenericDialect {})
        .with_recursion_limit(40)
        .try_with_sql(query)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| match e {
            ParserError::RecursionLimitExceeded => SqlError::Unsupported("nesting this deep"),
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => SqlError::Syntax(m),
        })?;
    let [statement] = statements.as_mut_slice() else {
        return Err(SqlError::NotOneStatement);
    };
    let Statement::Query(_) = statement else {
        return Err(SqlError::NotAQuery);
    };
    let mut checker = Checker {
        published,
        tables: Vec::new(),
        references: 0,
        placeholders: 0,
        limits,
    };
    if let ControlFlow::Break(e) = Visit::visit(&*statement, &mut checker) {
        return Err(e);
    }
    if checker.placeholders > limits.max_parameters || checker.placeholders != parameters {
        return Err(SqlError::Parameters {
            placeholders: checker.placeholders,
            given: parameters,
        });
    }
    let mut rewriter = Rewriter { published };
    let _ = statement.visit(&mut rewriter);
    number_placeholders(statement);
    let sql = statement.to_string();
    reads_back(&sql)?;
    let mut tables = checker.tables;
    tables.sort_unstable();
    tables.dedup();
    Ok(Checked {
        sql,
        tables,
        placeholders: checker.placeholders,
    })
}

/// The printed query reads back as itself: one statement, no comment, no `;`, and parsed again
/// it prints the same. A query the printer would change in meaning (an engine reads the text,
/// not the tree that was checked) is refused.
fn reads_back(sql: &str) -> Result<(), SqlError> {
    let broken = SqlError::Unsupported("a query that does not print back as itself");
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|_| broken.clone())?;
    if tokens.iter().any(|t| {
        matches!(
            t,
            Token::SemiColon
                | Token::Whitespace(
                    Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_)
                )
        )
    }) {
        return Err(broken);
    }
    let again = Parser::parse_sql(&GenericDialect {}, sql).map_err(|_| broken.clone())?;
    match again.as_slice() {
        [one] if one.to_string() == sql => Ok(()),
        _ => Err(broken),
    }
}

/// Numbers the `?` placeholders `?1`, `?2`, ... in the order they stand in the query's text, so
/// each value binds where it was written even where the printer orders clauses otherwise
/// (`OFFSET ? LIMIT ?` prints as `LIMIT ? OFFSET ?`).
fn number_placeholders(statement: &mut Statement) {
    let mut at: Vec<(u64, u64)> = Vec::new();
    let _ = sqlparser::ast::visit_expressions(&*statement, |e| {
        if let Expr::Value(v) = e
            && matches!(&v.value, Value::Placeholder(p) if p == "?")
        {
            at.push((v.span.start.line, v.span.start.column));
        }
        ControlFlow::<()>::Continue(())
    });
    let mut order: Vec<usize> = (0..at.len()).collect();
    order.sort_by_key(|&i| at[i]);
    let mut rank = vec![0; at.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    let mut next = 0;
    let _ = sqlparser::ast::visit_expressions_mut(statement, |e| {
        if let Expr::Value(v) = e
            && matches!(&v.value, Value::Placeholder(p) if p == "?")
        {
            v.value =
                Value::Placeholder(format!("?{}", rank.get(next).copied().unwrap_or(next + 1)));
            next += 1;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The published table an object name refers to: its parts joined by `.` (so `a.b.c` and
/// `"a.b.c"` are one name), compared without case.
fn resolve(name: &ObjectName, published: &[&str]) -> Option<usize> {
    let joined = joined(name.0.iter().map(ObjectNamePart::as_ident))?;
    published
        .iter()
        .position(|p| p.eq_ignore_ascii_case(&joined))
}

fn joined<'a>(parts: impl Iterator<Item = Option<&'a Ident>>) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&part?.value);
    }
    Some(out)
}

/// The alias a published table gets when the query gives none: its name's last part.
fn default_alias(published: &str) -> Ident {
    Ident::with_quote('"', published.rsplit('.').next().unwrap_or(published))
}

struct Checker<'a> {
    published: &'a [&'a str],
    tables: Vec<usize>,
    references: usize,
    placeholders: usize,
    limits: &'a Limits,
}

type Flow = ControlFlow<SqlError>;

fn refuse(what: &'static str) -> Flow {
    ControlFlow::Break(SqlError::Unsupported(what))
}

fn ok_if(cond: bool, what: &'static str) -> Flow {
    if cond {
        ControlFlow::Continue(())
    } else {
        refuse(what)
    }
}

fn check_query(q: &Query) -> Flow {
    ok_if(q.with.is_none(), "WITH")?;
    ok_if(q.fetch.is_none(), "FETCH")?;
    ok_if(q.locks.is_empty(), "FOR UPDATE")?;
    ok_if(q.for_clause.is_none(), "FOR")?;
    ok_if(q.settings.is_none(), "SETTINGS")?;
    ok_if(q.format_clause.is_none(), "FORMAT")?;
    ok_if(q.pipe_operators.is_empty(), "a pipe operator")?;
    if let Some(order) = &q.order_by {
        ok_if(
            matches!(order.kind, OrderByKind::Expressions(_)) && order.interpolate.is_none(),
            "this ORDER BY",
        )?;
    }
    if let Some(limit) = &q.limit_clause {
        ok_if(
            matches!(limit, sqlparser::ast::LimitClause::LimitOffset { limit_by, .. } if limit_by.is_empty()),
            "this LIMIT",
        )?;
    }
    check_set_expr(&q.body)
}

fn check_set_expr(body: &SetExpr) -> Flow {
    match body {
        SetExpr::Select(select) => check_select(select),
        SetExpr::Query(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation {
            op, left, right, ..
        } => {
            ok_if(
                matches!(
                    op,
                    SetOperator::Union | SetOperator::Except | SetOperator::Intersect
                ),
                "this set operation",
            )?;
            check_set_expr(left)?;
            check_set_expr(right)
        }
        _ => refuse("VALUES, TABLE and data-changing statements"),
    }
}

fn plain_wildcard(options: &WildcardAdditionalOptions) -> bool {
    options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none()
}

fn check_select(s: &Select) -> Flow {
    ok_if(s.top.is_none(), "TOP")?;
    ok_if(s.exclude.is_none(), "EXCLUDE")?;
    ok_if(s.into.is_none(), "SELECT INTO")?;
    ok_if(s.lateral_views.is_empty(), "LATERAL VIEW")?;
    ok_if(s.prewhere.is_none(), "PREWHERE")?;
    ok_if(
        s.cluster_by.is_empty() && s.distribute_by.is_empty() && s.sort_by.is_empty(),
        "CLUSTER, DISTRIBUTE and SORT BY",
    )?;
    ok_if(s.named_window.is_empty(), "WINDOW")?;
    ok_if(s.qualify.is_none(), "QUALIFY")?;
    ok_if(s.connect_by.is_none(), "CONNECT BY")?;
    ok_if(s.value_table_mode.is_none(), "SELECT AS STRUCT")?;
    ok_if(
        !matches!(s.distinct, Some(sqlparser::ast::Distinct::On(_))),
        "DISTINCT ON",
    )?;
    ok_if(
        matches!(&s.group_by, GroupByExpr::Expressions(_, modifiers) if modifiers.is_empty()),
        "GROUP BY ALL and grouping modifiers",
    )?;
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(_) => {}
            SelectItem::ExprWithAlias { alias, .. } => plain_ident(alias)?,
            SelectItem::Wildcard(o) => ok_if(plain_wildcard(o), "wildcard options")?,
            SelectItem::QualifiedWildcard(kind, o) => {
                ok_if(plain_wildcard(o), "wildcard options")?;
                ok_if(
                    matches!(kind, SelectItemQualifiedWildcardKind::ObjectName(_)),
                    "an expression wildcard",
                )?;
            }
        }
    }
    for from in &s.from {
        check_joins(from)?;
    }
    ControlFlow::Continue(())
}

fn check_joins(from: &TableWithJoins) -> Flow {
    for join in &from.joins {
        ok_if(
            matches!(
                join.join_operator,
                JoinOperator::Join(_)
                    | JoinOperator::Inner(_)
                    | JoinOperator::Left(_)
                    | JoinOperator::LeftOuter(_)
                    | JoinOperator::CrossJoin(_)
            ),
            "this kind of join (JOIN, INNER, LEFT and CROSS are)",
        )?;
    }
    ControlFlow::Continue(())
}

fn check_function(f: &sqlparser::ast::Function) -> Flow {
    let name = joined(f.name.0.iter().map(ObjectNamePart::as_ident))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !FUNCTIONS.contains(&name.as_str()) {
        let shown: String = name.chars().take(64).collect();
        return ControlFlow::Break(SqlError::Function(shown));
    }
    ok_if(!f.uses_odbc_syntax, "ODBC function syntax")?;
    ok_if(
        matches!(f.parameters, FunctionArguments::None),
        "parametric functions",
    )?;
    ok_if(f.filter.is_none(), "FILTER")?;
    ok_if(f.null_treatment.is_none(), "IGNORE/RESPECT NULLS")?;
    ok_if(f.over.is_none(), "window functions (OVER)")?;
    ok_if(f.within_group.is_empty(), "WITHIN GROUP")?;
    let FunctionArguments::List(list) = &f.args else {
        return refuse("a function without an argument list");
    };
    ok_if(list.clauses.is_empty(), "function argument clauses")?;
    for arg in &list.args {
        match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(_)) => {}
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if name == "count" => {}
            _ => return refuse("this function argument"),
        }
    }
    ControlFlow::Continue(())
}

fn check_value(v: &Value, placeholders: &mut usize) -> Flow {
    match v {
        Value::SingleQuotedString(text) => ok_if(
            text.len() <= MAX_LITERAL_BYTES && !text.chars().any(char::is_control),
            "a string literal over 1 KiB or with control characters",
        ),
        Value::Number(..) | Value::Boolean(_) | Value::Null => ControlFlow::Continue(()),
        Value::Placeholder(p) if p == "?" => {
            *placeholders += 1;
            ControlFlow::Continue(())
        }
        Value::Placeholder(_) => refuse("a placeholder other than `?`"),
        _ => refuse("this kind of literal"),
    }
}

/// The longest string literal, bytes.
const MAX_LITERAL_BYTES: usize = 1024;

/// The most tokens a query may have (bounds the depth of every tree built from it).
pub const MAX_TOKENS: usize = 1_000;

/// A type a value may be cast to: SQL's numeric and character types, with at most numeric
/// length or precision arguments.
fn cast_type(t: &sqlparser::ast::DataType) -> bool {
    if matches!(t, sqlparser::ast::DataType::Custom(..)) {
        return false;
    }
    let printed = t.to_string().to_ascii_uppercase();
    let base = match printed.split_once('(') {
        Some((base, args)) => {
            let Some(args) = args.strip_suffix(')') else {
                return false;
            };
            if !args
                .split(',')
                .all(|a| !a.trim().is_empty() && a.trim().chars().all(|c| c.is_ascii_digit()))
            {
                return false;
            }
            base.trim().to_owned()
        }
        None => printed,
    };
    [
        "INT",
        "INTEGER",
        "BIGINT",
        "SMALLINT",
        "REAL",
        "DOUBLE",
        "DOUBLE PRECISION",
        "FLOAT",
        "DECIMAL",
        "NUMERIC",
        "VARCHAR",
        "CHAR",
        "TEXT",
    ]
    .contains(&base.as_str())
}

/// An identifier SQLite reads as the parser did: letters, digits and `_`, not starting with a
/// digit, unquoted or in double quotes (`@a` or `#a` would be a parameter to SQLite).
fn alias_ok(alias: Option<&TableAlias>) -> Flow {
    match alias {
        None => ControlFlow::Continue(()),
        Some(a) => {
            ok_if(a.columns.is_empty(), "column aliases of a table")?;
            plain_ident(&a.name)
        }
    }
}

fn plain_ident(ident: &Ident) -> Flow {
    ok_if(
        is_plain(&ident.value) && matches!(ident.quote_style, None | Some('"')),
        "an identifier other than letters, digits and `_`",
    )
}

fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn check_expr(e: &Expr) -> Flow {
    match e {
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsNotTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::InList { .. }
        | Expr::InSubquery { .. }
        | Expr::Between { .. }
        | Expr::Nested(_)
        | Expr::Value(_)
        | Expr::Case { .. }
        | Expr::Exists { .. }
        | Expr::Subquery(_) => ControlFlow::Continue(()),
        Expr::BinaryOp { op, .. } => ok_if(
            matches!(
                op,
                BinaryOperator::Plus
                    | BinaryOperator::Minus
                    | BinaryOperator::Multiply
                    | BinaryOperator::Divide
                    | BinaryOperator::Modulo
                    | BinaryOperator::Gt
                    | BinaryOperator::Lt
                    | BinaryOperator::GtEq
                    | BinaryOperator::LtEq
                    | BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::And
                    | BinaryOperator::Or
            ),
            "this operator",
        ),
        Expr::UnaryOp { op, expr } => {
            ok_if(
                matches!(
                    op,
                    UnaryOperator::Not | UnaryOperator::Minus | UnaryOperator::Plus
                ),
                "this unary operator",
            )?;
            // `- -1` would print as `--1`, a comment to SQLite: a sign over a signed operand
            // is refused (write `-(-1)`).
            let printed = expr.to_string();
            ok_if(
                matches!(op, UnaryOperator::Not) || !printed.starts_with(['-', '+']),
                "a sign directly before another sign (write -(-x))",
            )
        }
        Expr::Like {
            any, escape_char, ..
        } => ok_if(
            !any && escape_char.is_none(),
            "LIKE ANY and LIKE ... ESCAPE",
        ),
        Expr::Cast {
            kind,
            format,
            data_type,
            ..
        } => {
            ok_if(
                matches!(kind, CastKind::Cast) && format.is_none(),
                "this cast (CAST(x AS type) is)",
            )?;
            ok_if(
                cast_type(data_type),
                "this type (CAST to INTEGER, BIGINT, REAL, DOUBLE, DECIMAL, VARCHAR, CHAR or TEXT)",
            )
        }
        Expr::Identifier(ident) => plain_ident(ident),
        Expr::CompoundIdentifier(parts) => {
            for ident in parts {
                plain_ident(ident)?;
            }
            ControlFlow::Continue(())
        }
        Expr::Function(f) => check_function(f),
        _ => refuse("this expression"),
    }
}

impl Visitor for Checker<'_> {
    type Break = SqlError;

    fn pre_visit_statement(&mut self, statement: &Statement) -> Flow {
        ok_if(
            matches!(statement, Statement::Query(_)),
            "a nested statement",
        )
    }

    fn pre_visit_query(&mut self, query: &Query) -> Flow {
        check_query(query)
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> Flow {
        match factor {
            TableFactor::Table {
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
                alias,
                ..
            } => {
                alias_ok(alias.as_ref())?;
                ok_if(
                    args.is_none()
                        && with_hints.is_empty()
                        && version.is_none()
                        && !with_ordinality
                        && partitions.is_empty()
                        && json_path.is_none()
                        && sample.is_none()
                        && index_hints.is_empty(),
                    "table functions and table options",
                )
            }
            TableFactor::Derived { lateral, alias, .. } => {
                ok_if(!lateral, "LATERAL")?;
                alias_ok(alias.as_ref())
            }
            TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            _ => refuse("this kind of table source"),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> Flow {
        self.references += 1;
        if self.references > self.limits.max_table_references {
            return ControlFlow::Break(SqlError::TooManyTables {
                max: self.limits.max_table_references,
            });
        }
        match resolve(relation, self.published) {
            Some(i) => {
                self.tables.push(i);
                ControlFlow::Continue(())
            }
            None => {
                let shown: String = relation.to_string().chars().take(128).collect();
                ControlFlow::Break(SqlError::UnknownTable(shown))
            }
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> Flow {
        check_expr(expr)
    }

    fn pre_visit_value(&mut self, value: &Value) -> Flow {
        check_value(value, &mut self.placeholders)
    }
}

/// Renames published tables to internal ones (aliased by their last part when the query gave no
/// alias) and column references qualified by a full published name to that alias.
struct Rewriter<'a> {
    published: &'a [&'a str],
}

impl Rewriter<'_> {
    /// `gemj.catalogue.datasets.*` (a projection item, which the expression visitor does not
    /// reach) becomes `datasets.*`.
    fn wildcards(&self, body: &mut SetExpr) {
        match body {
            SetExpr::Select(select) => {
                for item in &mut select.projection {
                    if let SelectItem::QualifiedWildcard(
                        SelectItemQualifiedWildcardKind::ObjectName(name),
                        _,
                    ) = item
                        && name.0.len() > 1
                        && let Some(i) = resolve(name, self.published)
                    {
                        *name = ObjectName::from(vec![default_alias(self.published[i])]);
                    }
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.wildcards(left);
                self.wildcards(right);
            }
            _ => {}
        }
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.wildcards(&mut query.body);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor
            && let Some(i) = resolve(name, self.published)
        {
            if alias.is_none() {
                *alias = Some(TableAlias {
                    name: default_alias(self.published[i]),
                    columns: Vec::new(),
                });
            }
            *name = ObjectName::from(vec![Ident::new(internal_name(i))]);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() > 2
            && let Some(prefix) = joined(parts[..parts.len() - 1].iter().map(Some))
            && let Some(i) = self
                .published
                .iter()
                .position(|p| p.eq_ignore_ascii_case(&prefix))
            && let Some(column) = parts.last().cloned()
        {
            *parts = vec![default_alias(self.published[i]), column];
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests;
