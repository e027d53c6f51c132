//! The end of a statement's trip: its result becomes Python objects under the GIL, once,
//! and its timings are closed.

use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::bridge::Delivery;
use crate::errors::EngineResult;
use crate::pytypes::py_types;
use crate::shaping::RowShape;
use crate::statement::Payload;
use crate::stats::StatsDraft;
use crate::{pg_decode, sqlite_decode};

/// What the caller asked to get back besides the result itself.
#[derive(Default)]
pub struct Shape {
    /// `(column_names, rows)` instead of `rows`.
    pub columns: bool,
    /// `(result, QueryStats)` instead of `result`.
    pub stats: bool,
    /// Rows made into instances or dicts instead of tuples.
    pub rows: Option<RowShape>,
}

pub struct Reply {
    pub outcome: EngineResult<Payload>,
    pub draft: StatsDraft,
    pub shape: Shape,
}

impl Reply {
    pub fn new(outcome: EngineResult<Payload>, mut draft: StatsDraft, shape: Shape) -> Reply {
        draft.io_done();
        Reply {
            outcome,
            draft,
            shape,
        }
    }
}

/// Results up to this many values are built on the event loop's thread (about a millisecond
/// of work at most); larger ones in GIL slices on a blocking thread.
const INLINE_CELLS: usize = 8_192;

impl Delivery for Reply {
    fn small(&self) -> bool {
        self.outcome
            .as_ref()
            .map_or(true, |payload| payload.cell_count() <= INLINE_CELLS)
    }
}

impl<'py> IntoPyObject<'py> for Reply {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let acquired = Instant::now();
        let payload = self.outcome.map_err(|e| e.into_pyerr(py))?;
        let rows = payload.row_count();
        let value = payload_to_py(py, payload, &self.shape)?;
        if !self.shape.stats {
            return Ok(value);
        }
        let stats = self.draft.finish(acquired, Instant::now(), rows);
        Ok(PyTuple::new(py, [value, Bound::new(py, stats)?.into_any()])?.into_any())
    }
}

fn payload_to_py<'py>(
    py: Python<'py>,
    payload: Payload,
    shape: &Shape,
) -> PyResult<Bound<'py, PyAny>> {
    let rows_as = shape.rows.as_ref();
    let (columns, list): (Vec<String>, Bound<'_, PyList>) = match payload {
        Payload::PgRows { columns, rows } => {
            let types = py_types(py)?;
            (columns, pg_decode::rows_to_list(py, types, &rows, rows_as)?)
        }
        Payload::SqliteRows(rows) => {
            let types = py_types(py)?;
            let list = sqlite_decode::rows_to_list(py, types, &rows, rows_as)?;
            (rows.columns, list)
        }
        Payload::Count(count) => {
            let Ok(count) = count.into_pyobject(py);
            return Ok(count.into_any());
        }
        Payload::Done => return Ok(py.None().into_bound(py)),
    };
    if !shape.columns {
        return Ok(list.into_any());
    }
    let names = PyTuple::new(py, columns)?;
    Ok(PyTuple::new(py, [names.into_any(), list.into_any()])?.into_any())
}
