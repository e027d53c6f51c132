//! Result rows to model instances or dicts, for the ORM: one C-level loop instead of a Python
//! one per row (a whole `Book` instance cost about 5 µs in Python, mostly the interpreter's
//! own overhead around creating the object and filling its `__dict__`). The rows are either
//! tuples already fetched (`shape_rows`) or a result being decoded (`hydrate::build_rows`).

use pyo3::prelude::*;
use pyo3::types::{
    PyDateAccess, PyDateTime, PyDict, PyList, PyTimeAccess, PyTuple, PyType, PyTzInfo,
    PyTzInfoAccess,
};

use crate::pytypes::generic_setattr;

/// How one column is read, `(index, convert, utc_zone)`: `convert(value)`; or, where `utc_zone`
/// is given, a datetime in UTC as the engine decodes it (tzinfo `datetime.timezone.utc`) gets
/// that zone instead, which is what `astimezone(utc_zone)` would return, without the call.
#[derive(FromPyObject)]
pub struct Reader<'py>(usize, Bound<'py, PyAny>, Option<Bound<'py, PyTzInfo>>);

/// The `shape=` argument of a fetch, as a tuple.
#[derive(FromPyObject)]
struct ShapeArgument<'py>(
    Bound<'py, PyTuple>,
    Vec<Reader<'py>>,
    Option<Bound<'py, PyType>>,
    Option<Bound<'py, PyDict>>,
);

struct ColumnReader {
    convert: Py<PyAny>,
    utc_zone: Option<Py<PyTzInfo>>,
}

/// What each row becomes: an instance of `model` with the attributes `names[i] = row[i]`
/// plus the items of `state`, set as `object.__setattr__` would (no `__setattr__` override
/// runs; CPython keeps them in the instance's inline values, with no dict object per
/// instance until one is asked for); or, without `model`, a dict of the same. Columns after
/// the named ones are not kept (hidden ordering columns).
pub struct RowShape {
    names: Vec<Py<PyAny>>,
    /// By column: its reader, if it has one.
    readers: Vec<Option<ColumnReader>>,
    model: Option<Py<PyType>>,
    state: Vec<(Py<PyAny>, Py<PyAny>)>,
    utc: Py<PyTzInfo>,
}

impl RowShape {
    pub fn new(
        names: &Bound<'_, PyTuple>,
        readers: Vec<Reader<'_>>,
        model: Option<&Bound<'_, PyType>>,
        state: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<RowShape> {
        let py = names.py();
        let width = names.len();
        let mut by_column: Vec<Option<ColumnReader>> = (0..width).map(|_| None).collect();
        for Reader(index, convert, utc_zone) in readers {
            let Some(slot) = by_column.get_mut(index) else {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                    "reader for column {index} of a {width}-column shape"
                )));
            };
            *slot = Some(ColumnReader {
                convert: convert.unbind(),
                utc_zone: utc_zone.map(Bound::unbind),
            });
        }
        let state = match state {
            Some(state) => state
                .iter()
                .map(|(name, value)| (name.unbind(), value.unbind()))
                .collect(),
            None => Vec::new(),
        };
        Ok(RowShape {
            names: names.iter().map(Bound::unbind).collect(),
            readers: by_column,
            model: model.map(|m| m.clone().unbind()),
            state,
            utc: PyTzInfo::utc(py)?.to_owned().unbind(),
        })
    }

    /// From the `shape=` argument of a fetch: `(names, readers, model, state)`.
    pub fn from_argument(argument: &Bound<'_, PyAny>) -> PyResult<RowShape> {
        let ShapeArgument(names, readers, model, state) = argument.extract()?;
        RowShape::new(&names, readers, model.as_ref(), state.as_ref())
    }

    /// How many leading columns a row must have.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The object one row becomes, empty.
    pub fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.model {
            Some(model) => new_instance(model.bind(py)),
            None => Ok(PyDict::new(py).into_any()),
        }
    }

    /// Column `col` (below `width()`) of the row `target` is built from, read by its reader.
    pub fn put<'py>(
        &self,
        target: &Bound<'py, PyAny>,
        col: usize,
        value: Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = target.py();
        let value = match &self.readers[col] {
            None => value,
            Some(reader) => {
                let swapped = match &reader.utc_zone {
                    Some(zone) => in_utc_zone(&value, self.utc.bind(py), zone.bind(py))?,
                    None => None,
                };
                match swapped {
                    Some(swapped) => swapped,
                    None => reader.convert.bind(py).call1((value,))?,
                }
            }
        };
        self.store(target, self.names[col].bind(py), &value)
    }

    /// The state every row's object gets after its columns.
    pub fn finish(&self, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = target.py();
        for (name, value) in &self.state {
            self.store(target, name.bind(py), value.bind(py))?;
        }
        Ok(())
    }

    fn store(
        &self,
        target: &Bound<'_, PyAny>,
        name: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if self.model.is_some() {
            generic_setattr(target, name, value)
        } else {
            // SAFETY: without a model, every target is a dict made by `start`.
            unsafe { target.cast_unchecked::<PyDict>() }.set_item(name, value)
        }
    }
}

/// `rows` (tuples) shaped as `RowShape` says, for rows already fetched.
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
    let shape = RowShape::new(names, readers, model, state)?;
    let width = shape.width();
    let shaped = PyList::empty(py);
    for row in rows.iter() {
        let row = row.cast_into::<PyTuple>()?;
        if row.len() < width {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "a row of {} values for {width} names",
                row.len()
            )));
        }
        let target = shape.start(py)?;
        for (col, value) in row.iter().take(width).enumerate() {
            shape.put(&target, col, value)?;
        }
        shape.finish(&target)?;
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
