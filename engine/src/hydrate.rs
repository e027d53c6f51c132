//! The hot loop: filling a list of row tuples, positionally, under the GIL. Each backend's
//! decoder supplies one cell at a time; this loop owns allocation and the GIL slicing.

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::EngineError;

/// Cells built between two brief GIL releases, so a huge result cannot starve the event loop
/// (the asyncio thread asks for the GIL every 5 ms and gets it at the next release).
const CELLS_PER_GIL_SLICE: usize = 16_384;

/// Build `row_count` tuples of `width` cells; `cell(row, col)` makes each item.
pub fn build_rows<'py, F>(
    py: Python<'py>,
    row_count: usize,
    width: usize,
    mut cell: F,
) -> Result<Bound<'py, PyList>, EngineError>
where
    F: FnMut(usize, usize) -> Result<Bound<'py, PyAny>, EngineError>,
{
    let list = new_list(py, row_count)?;
    let mut budget = CELLS_PER_GIL_SLICE;
    for row in 0..row_count {
        let tuple = new_tuple(py, width)?;
        for col in 0..width {
            let item = cell(row, col)?;
            // SAFETY: the tuple is fresh and `col < width`; SET_ITEM steals the new reference.
            unsafe { pyo3::ffi::PyTuple_SET_ITEM(tuple.as_ptr(), col as isize, item.into_ptr()) };
        }
        // SAFETY: the list is fresh and `row < row_count`; SET_ITEM steals the reference.
        unsafe { pyo3::ffi::PyList_SET_ITEM(list.as_ptr(), row as isize, tuple.into_ptr()) };
        budget = budget.saturating_sub(width.max(1));
        if budget == 0 {
            budget = CELLS_PER_GIL_SLICE;
            py.detach(|| ());
        }
    }
    Ok(list)
}

fn new_list(py: Python<'_>, len: usize) -> Result<Bound<'_, PyList>, EngineError> {
    // SAFETY: PyList_New returns a new reference, or NULL with an exception set. Its slots
    // start NULL and are all filled before the list is handed out.
    unsafe {
        Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(len as isize))
            .map(|any| any.cast_into_unchecked())
            .map_err(|e| EngineError::interface(e.to_string()))
    }
}

fn new_tuple(py: Python<'_>, len: usize) -> Result<Bound<'_, PyAny>, EngineError> {
    // SAFETY: as for the list.
    unsafe {
        Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyTuple_New(len as isize))
            .map_err(|e| EngineError::interface(e.to_string()))
    }
}
