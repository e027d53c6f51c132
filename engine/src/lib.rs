//! yara-orm's engine: pooling, parameter binding and row decoding for PostgreSQL and SQLite,
//! exposed to Python as `yara_orm._engine`. This file only declares modules and exports.

mod backend;
mod bridge;
mod calendar;
mod cancel;
mod config;
mod core;
mod engine;
mod errors;
mod fault;
mod hydrate;
mod isolation;
mod loop_waker;
mod numeric;
mod pg_cancel;
mod pg_decode;
mod pg_encode;
mod pg_pool;
mod pinned;
mod pooled;
mod postgres;
mod py_frames;
mod py_rewind;
mod py_simulation;
mod py_transaction;
mod pytypes;
mod reply;
mod runner;
mod runtime;
mod savepoint;
mod sequence;
mod shaping;
mod simulation;
mod sqlite;
mod sqlite_decode;
mod sqlite_direct;
mod sqlite_errors;
mod sqlite_functions;
mod sqlite_run;
mod sqlite_worker;
mod statement;
mod stats;
mod task;
mod transaction;
mod value;

use pyo3::prelude::*;

#[pymodule]
fn _engine(module: &Bound<'_, PyModule>) -> PyResult<()> {
    bridge::install(module.py())?;
    module.add_function(wrap_pyfunction!(engine::connect, module)?)?;
    module.add_function(wrap_pyfunction!(shaping::shape_rows, module)?)?;
    module.add_function(wrap_pyfunction!(py_frames::user_location, module)?)?;
    module.add_class::<runner::StatementRunner>()?;
    module.add_class::<engine::Engine>()?;
    module.add_class::<py_transaction::Transaction>()?;
    module.add_class::<stats::QueryStats>()?;
    module.add_class::<py_simulation::Injection>()?;
    module.add_class::<py_rewind::Rewind>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
