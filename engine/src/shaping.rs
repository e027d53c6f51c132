//! Result rows to model instances or dicts, for the ORM: one C-level loop instead of a Python
//! one per row (a whole `Book` instance cost about 5 µs in Python, mostly the interpreter's
//! own overhead around creating the object and filling its `__dict__`).

use pyo3::prelude::*;
use pyo3::types::{
    PyDateAccess, PyDateTime, PyDict, PyList, PyTimeAccess, PyTuple, PyType, PyTzInfo,
    PyTzInfoAccess,
};

/// How one column is read, `(index, convert, utc_zone)`: `convert(value)`; or, where `utc_zone`
/// is given, a datetime in UTC as the engine decodes it (tzinfo `datetime.timezone.utc`) gets
/// that zone instead, which is what `astimezone(utc_zone)` would return, without the call.
#[derive(FromPyObject)]
pub struct Reader<'py>(usize, Bound<'py, PyAny>, Option<Bound<'py, PyTzInfo>>);

/// `rows` (tuples) as instances of `model` with the attributes `names[i] = row[i]` plus the
/// items of `state`, set as `object.__setattr__` would (no `__setattr__` override runs); or,
/// without `model`, as dicts of the same. A row longer than `names`
/// ends in columns that are not kept (hidden ordering columns).
#[pyfunction]
#[pyo3(signature = (rows, names, readers, model=None, state=None))]
pub fn shape_rows<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyList>,
    names: &Bound<'py, PyTuple>,
    readers: Vec<Reader<'py>>,
    model: Option<&Bound<'py, PyType>>,
    state: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let width = names.len();
    if let Some(reader) = readers.iter().find(|reader| reader.0 >= width) {
        return Err(pyo3::exceptions::PyIndexError::new_err(format!(
            "reader for column {} of a {width}-column shape",
            reader.0
        )));
    }
    let utc = PyTzInfo::utc(py)?;
    let shaped = PyList::empty(py);
    for row in rows.iter() {
        let row = row.cast_into::<PyTuple>()?;
        if row.len() < width {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "a row of {} values for {width} names",
                row.len()
            )));
        }
        let target = match model {
            Some(model) => new_instance(model)?,
            None => PyDict::new(py).into_any(),
        };
        // Instances get attributes as `setattr` would store them (CPython keeps them in the
        // instance's inline values; no dict object per instance until one is asked for).
        let store = |name: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>| match model {
            Some(_) => generic_setattr(&target, name, value),
            None => set_dict_item(&target, name, value),
        };
        for (name, value) in names.iter().zip(row.iter()) {
            store(&name, &value)?;
        }
        for reader in &readers {
            let name = names.get_item(reader.0)?;
            let value = row.get_item(reader.0)?;
            let swapped = match &reader.2 {
                Some(zone) => in_utc_zone(&value, &utc, zone)?,
                None => None,
            };
            let read = match swapped {
                Some(swapped) => swapped,
                None => reader.1.call1((value,))?,
            };
            store(&name, &read)?;
        }
        if let Some(state) = state {
            for (name, value) in state.iter() {
                store(&name, &value)?;
            }
        }
        shaped.append(target)?;
    }
    Ok(shaped)
}

/// `model.__new__(model)` through the type's slot, as `Model.__new__(Model)` does.
fn new_instance<'py>(model: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
    let py = model.py();
    let args = PyTuple::empty(py);
    // SAFETY: `model` is a live type object; tp_new is looked up through the stable API and
    // called with an empty argument tuple, returning a new reference or NULL with an error.
    unsafe {
        let slot = pyo3::ffi::PyType_GetSlot(model.as_type_ptr(), pyo3::ffi::Py_tp_new);
        if slot.is_null() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{} cannot be instantiated",
                model.name()?
            )));
        }
        let tp_new: pyo3::ffi::newfunc = std::mem::transmute(slot);
        Bound::from_owned_ptr_or_err(
            py,
            tp_new(model.as_type_ptr(), args.as_ptr(), std::ptr::null_mut()),
        )
    }
}

fn generic_setattr(
    target: &Bound<'_, PyAny>,
    name: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: three live objects borrowed for the call; the name is a str (from a tuple of
    // names or a dict of state, checked by the caller's types).
    let status = unsafe {
        pyo3::ffi::PyObject_GenericSetAttr(target.as_ptr(), name.as_ptr(), value.as_ptr())
    };
    if status == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(target.py()))
    }
}

fn set_dict_item(
    target: &Bound<'_, PyAny>,
    name: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: `target` is the dict made for this row.
    unsafe { target.cast_unchecked::<PyDict>() }.set_item(name, value)
}

/// The same instant with `zone` (a UTC zone) as tzinfo, when `value` is a datetime in
/// `datetime.timezone.utc`; None for anything else (left to the field's converter).
fn in_utc_zone<'py>(
    value: &Bound<'py, PyAny>,
    utc: &Bound<'py, PyTzInfo>,
    zone: &Bound<'py, PyTzInfo>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Ok(moment) = value.cast_exact::<PyDateTime>() else {
        return Ok(None);
    };
    match moment.get_tzinfo() {
        Some(tz) if tz.is(utc) => {}
        _ => return Ok(None),
    }
    let swapped = PyDateTime::new(
        value.py(),
        moment.get_year(),
        moment.get_month(),
        moment.get_day(),
        moment.get_hour(),
        moment.get_minute(),
        moment.get_second(),
        moment.get_microsecond(),
        Some(zone),
    )?;
    Ok(Some(swapped.into_any()))
}
