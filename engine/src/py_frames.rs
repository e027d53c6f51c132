//! The line of user code that issued a statement, for the test toolkit's query recorder: a walk
//! up the caller's Python frames. It runs for every recorded statement, and written in Python
//! the walk (five or six ORM frames before the user's) cost more than the rest of the record.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// The location (`"name:line"`) of the innermost frame, the caller's included, whose code
/// `codes` names; None when every frame is skipped.
///
/// `codes` maps `id(code)` to `(code, name, locations)`: `name` is how the code's file is shown,
/// or "" for code to skip, and `locations` caches `"name:line"` by instruction offset (a line
/// number is decoded from the code's line table from its start). A code not in `codes` is given
/// to `classify(code)`, which adds its entry and returns it. `codes` must keep each code it
/// names alive (the entry holds it), so an id stays that code's while it is cached.
#[pyfunction]
pub fn user_location<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyDict>,
    classify: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyString>>> {
    // SAFETY: called with the GIL held (`py`); the current frame is borrowed from the thread
    // state and owned here from the start, and each frame and code pointer below is a new
    // reference owned by a `Bound` at once, so every one is released.
    let mut frame = unsafe {
        let current = ffi::PyEval_GetFrame();
        if current.is_null() {
            return Ok(None);
        }
        Bound::from_borrowed_ptr(py, current.cast::<ffi::PyObject>())
    };
    loop {
        let frame_ptr = frame.as_ptr().cast::<ffi::PyFrameObject>();
        let code = unsafe {
            Bound::from_owned_ptr(py, ffi::PyFrame_GetCode(frame_ptr).cast::<ffi::PyObject>())
        };
        let key = code.as_ptr() as usize;
        let entry = match codes.get_item(key)? {
            Some(entry) => entry,
            None => classify.call1((&code,))?,
        };
        let entry = entry
            .cast::<PyTuple>()
            .map_err(|_| PyTypeError::new_err("classify must return (code, name, locations)"))?;
        let name = entry.get_item(1)?;
        if name.is_truthy()? {
            let locations = entry.get_item(2)?;
            let locations = locations.cast::<PyDict>().map_err(|_| {
                PyTypeError::new_err("a code's locations must be a dict of offsets")
            })?;
            let offset = unsafe { ffi::PyFrame_GetLasti(frame_ptr) };
            if let Some(found) = locations.get_item(offset)? {
                return Ok(Some(found.cast_into::<PyString>()?));
            }
            let line = unsafe { ffi::PyFrame_GetLineNumber(frame_ptr) };
            let location = PyString::new(py, &format!("{}:{line}", name.str()?));
            locations.set_item(offset, &location)?;
            return Ok(Some(location));
        }
        let back = unsafe { ffi::PyFrame_GetBack(frame_ptr) };
        if back.is_null() {
            return Ok(None);
        }
        frame = unsafe { Bound::from_owned_ptr(py, back.cast::<ffi::PyObject>()) };
    }
}
