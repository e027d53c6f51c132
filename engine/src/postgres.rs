//! Running one `Statement` on one PostgreSQL connection, and tokio-postgres' errors as the
//! engine's. No Python in here.

use futures_util::{future::try_join_all, TryStreamExt};

use crate::errors::{EngineError, EngineResult, ServerError};
use crate::pg_encode::{BindError, Param};
use crate::pg_pool::PgConn;
use crate::statement::{Action, Payload, Statement};
use crate::value::Value;

/// Turn a tokio-postgres error into the engine's, keeping every server field.
pub fn statement_error(err: tokio_postgres::Error, sql: &str) -> EngineError {
    if let Some(db) = err.as_db_error() {
        return EngineError::Server(Box::new(ServerError {
            sqlstate: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            table: db.table().map(str::to_owned),
            column: db.column().map(str::to_owned),
            sql: Some(sql.to_owned()),
            injected: None,
        }));
    }
    if let Some(bind) = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<BindError>())
    {
        if bind.out_of_range {
            // As the server says of a value too large for its column: a DataError.
            return EngineError::server(
                "22003",
                format!("{} (parameter ${})", bind.reason, bind.position),
            )
            .with_sql(sql);
        }
        return EngineError::Parameter {
            position: bind.position,
            python_type: bind.python_type.to_owned(),
            reason: bind.reason.clone(),
        };
    }
    if err.is_closed() {
        return EngineError::server(
            "08006",
            format!("the connection to the server was lost: {err}"),
        )
        .with_sql(sql);
    }
    EngineError::interface(format!("{err} (SQL: {sql})"))
}

fn is_stale_cached_plan(err: &EngineError) -> bool {
    matches!(err, EngineError::Server(e) if e.sqlstate == "0A000" && e.message.contains("cached plan"))
}

/// Run one statement on one connection. `retry_stale_plan` is false inside transactions,
/// where a failed statement has already aborted the transaction.
pub async fn run(
    conn: &PgConn,
    stmt: &Statement,
    cache: bool,
    retry_stale_plan: bool,
) -> EngineResult<Payload> {
    match run_once(conn, stmt, cache).await {
        Err(err) if cache && retry_stale_plan && is_stale_cached_plan(&err) => {
            // The schema changed under a cached statement: forget the cache and try once more.
            conn.clear_cache();
            run_once(conn, stmt, cache).await
        }
        other => other,
    }
}

async fn prepare(conn: &PgConn, sql: &str, cache: bool) -> EngineResult<tokio_postgres::Statement> {
    let prepared = if cache {
        conn.prepare_cached(sql).await
    } else {
        conn.prepare(sql).await
    };
    prepared.map_err(|e| statement_error(e, sql))
}

fn params_of<'a>(
    sql: &str,
    prepared: &tokio_postgres::Statement,
    values: &'a [Value],
) -> EngineResult<Vec<Param<'a>>> {
    let expected = prepared.params().len();
    if expected != values.len() {
        return Err(EngineError::server(
            "07001",
            format!(
                "the statement expects {expected} parameters, {} given",
                values.len()
            ),
        )
        .with_sql(sql));
    }
    Ok(values
        .iter()
        .enumerate()
        .map(|(index, value)| Param {
            value,
            position: index + 1,
        })
        .collect())
}

/// The protocol counts a statement's parameters in 16 bits.
const MAX_PARAMETERS: usize = 65_535;

fn check_parameter_count(stmt: &Statement) -> EngineResult<()> {
    let most = stmt
        .batches
        .iter()
        .map(Vec::len)
        .chain([stmt.params.len()])
        .max()
        .unwrap_or(0);
    if most > MAX_PARAMETERS {
        return Err(EngineError::server(
            "54000",
            format!(
                "{most} parameters in one statement; PostgreSQL allows at most {MAX_PARAMETERS} \
                 (send a list as one array parameter, e.g. `= ANY($1)`, or split the statement)"
            ),
        )
        .with_sql(&stmt.sql));
    }
    Ok(())
}

/// Whether a transaction block is open on the connection (tokio-postgres does not expose the
/// server's transaction status). Outside a block, a simple query's transaction starts with
/// the query itself; inside one, it started with an earlier query.
pub async fn in_transaction_block(conn: &PgConn) -> EngineResult<bool> {
    let sql = "SELECT transaction_timestamp() <> statement_timestamp()";
    let messages = conn
        .simple_query(sql)
        .await
        .map_err(|e| statement_error(e, sql))?;
    Ok(messages.iter().any(|message| {
        matches!(message, tokio_postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("t"))
    }))
}

async fn run_once(conn: &PgConn, stmt: &Statement, cache: bool) -> EngineResult<Payload> {
    check_parameter_count(stmt)?;
    let sql: &str = &stmt.sql;
    match stmt.action {
        Action::Script | Action::Control => {
            conn.batch_execute(sql)
                .await
                .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Done)
        }
        Action::Fetch => {
            let prepared = prepare(conn, sql, cache).await?;
            let params = params_of(sql, &prepared, &stmt.params)?;
            let stream = conn
                .query_raw(&prepared, params)
                .await
                .map_err(|e| statement_error(e, sql))?;
            let rows: Vec<tokio_postgres::Row> = stream
                .try_collect()
                .await
                .map_err(|e| statement_error(e, sql))?;
            let columns = prepared
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            Ok(Payload::PgRows { columns, rows })
        }
        Action::Execute => {
            let prepared = prepare(conn, sql, cache).await?;
            let params = params_of(sql, &prepared, &stmt.params)?;
            let count = conn
                .execute_raw(&prepared, params)
                .await
                .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Count(count))
        }
        Action::ExecuteMany => {
            let prepared = prepare(conn, sql, cache).await?;
            let batches = stmt
                .batches
                .iter()
                .map(|values| params_of(sql, &prepared, values))
                .collect::<EngineResult<Vec<_>>>()?;
            // Pipelined: every execution is sent before the first reply is awaited.
            let counts = try_join_all(
                batches
                    .into_iter()
                    .map(|params| conn.execute_raw(&prepared, params)),
            )
            .await
            .map_err(|e| statement_error(e, sql))?;
            Ok(Payload::Count(counts.into_iter().sum()))
        }
    }
}
