//! The hot loop: filling a list of row tuples, positionally, under the GIL. Each backend's
//! decoder supplies one cell at a time; this loop owns allocation and the GIL slicing.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::EngineError;
use crate::shaping::RowShape;

/// How often (in cells) the loop looks at the clock.
const CELLS_PER_CLOCK_CHECK: usize = 2_048;
/// The longest the GIL is held in one go while building a large result.
const GIL_SLICE: Duration = Duration::from_millis(2);
/// How long the GIL is let go between slices. A bare release is not enough: CPython's waiting
/// thread is woken, but this thread retakes the GIL before it runs, and as the release resets
/// the waiter's 5 ms timer it never gets to ask for a forced switch. Pausing briefly lets it in.
const GIL_PAUSE: Duration = Duration::from_micros(100);

/// Build `row_count` rows of `width` cells, `cell(row, col)` making each item: tuples, or what
/// `shape` makes of the leading columns it names (the others are not decoded at all).
pub fn build_rows<'py, F>(
    py: Python<'py>,
    row_count: usize,
    width: usize,
    shape: Option<&RowShape>,
    mut cell: F,
) -> PyResult<Bound<'py, PyList>>
where
    F: FnMut(usize, usize) -> Result<Bound<'py, PyAny>, EngineError>,
{
    let mut cell = |row: usize, col: usize| cell(row, col).map_err(|e| e.into_pyerr(py));
    let kept = match shape {
        Some(shape) if shape.width() > width => {
            return Err(EngineError::interface(format!(
                "rows of {width} columns cannot fill {} names",
                shape.width()
            ))
            .into_pyerr(py))
        }
        Some(shape) => shape.width(),
        None => width,
    };
    let list = new_list(py, row_count)?;
    let mut budget = CELLS_PER_CLOCK_CHECK;
    let mut slice_started = Instant::now();
    for row in 0..row_count {
        let built = match shape {
            None => {
                let tuple = new_tuple(py, width)?;
                for col in 0..width {
                    let item = cell(row, col)?;
                    // SAFETY: the tuple is fresh and `col < width`; SET_ITEM steals the reference.
                    unsafe {
                        pyo3::ffi::PyTuple_SET_ITEM(tuple.as_ptr(), col as isize, item.into_ptr())
                    };
                }
                tuple
            }
            Some(shape) => {
                let target = shape.start(py)?;
                for col in 0..kept {
                    shape.put(&target, col, cell(row, col)?)?;
                }
                shape.finish(&target)?;
                target
            }
        };
        // SAFETY: the list is fresh and `row < row_count`; SET_ITEM steals the reference.
        unsafe { pyo3::ffi::PyList_SET_ITEM(list.as_ptr(), row as isize, built.into_ptr()) };
        budget = budget.saturating_sub(kept.max(1));
        if budget == 0 {
            budget = CELLS_PER_CLOCK_CHECK;
            if slice_started.elapsed() >= GIL_SLICE {
                py.detach(|| std::thread::sleep(GIL_PAUSE));
                slice_started = Instant::now();
            }
        }
    }
    Ok(list)
}

fn new_list(py: Python<'_>, len: usize) -> PyResult<Bound<'_, PyList>> {
    // SAFETY: PyList_New returns a new reference, or NULL with an exception set. Its slots
    // start NULL and are all filled before the list is handed out (an error on the way
    // drops the list, and CPython's list deallocation skips NULL slots).
    unsafe {
        Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(len as isize))
            .map(|any| any.cast_into_unchecked())
    }
}

fn new_tuple(py: Python<'_>, len: usize) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: as for the list.
    unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyTuple_New(len as isize)) }
}
