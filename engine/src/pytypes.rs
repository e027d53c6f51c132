//! Python objects the engine needs on hot paths, imported once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDateTime, PyTzInfo};

use crate::calendar::{python_year, CivilDateTime};

pub struct PyTypes {
    pub decimal: Py<PyAny>,
    pub uuid: Py<PyAny>,
    pub safe_uuid_unknown: Py<PyAny>,
    pub json_loads: Py<PyAny>,
    pub json_dumps: Py<PyAny>,
}

static TYPES: PyOnceLock<PyTypes> = PyOnceLock::new();

pub fn py_types(py: Python<'_>) -> PyResult<&PyTypes> {
    TYPES.get_or_try_init(py, || {
        let uuid_module = py.import("uuid")?;
        let json = py.import("json")?;
        Ok(PyTypes {
            decimal: py.import("decimal")?.getattr("Decimal")?.unbind(),
            uuid: uuid_module.getattr("UUID")?.unbind(),
            safe_uuid_unknown: uuid_module
                .getattr("SafeUUID")?
                .getattr("unknown")?
                .unbind(),
            json_loads: json.getattr("loads")?.unbind(),
            json_dumps: json.getattr("dumps")?.unbind(),
        })
    })
}

impl PyTypes {
    /// `uuid.UUID` from its 128-bit value without running `UUID.__init__`'s argument parsing.
    pub fn make_uuid<'py>(&self, py: Python<'py>, value: u128) -> PyResult<Bound<'py, PyAny>> {
        let class = self.uuid.bind(py);
        let instance = class.call_method1(pyo3::intern!(py, "__new__"), (class,))?;
        let int_value = value.into_pyobject(py)?;
        // UUID forbids setattr; object.__setattr__ is what UUID.__init__ itself uses.
        generic_setattr(&instance, pyo3::intern!(py, "int"), int_value.as_any())?;
        generic_setattr(
            &instance,
            pyo3::intern!(py, "is_safe"),
            self.safe_uuid_unknown.bind(py),
        )?;
        // A UUID refers only to an int and an enum member and takes no new attributes, so it
        // can never be part of a reference cycle: the collector need not walk it (a large
        // result has one per row, and every collection walked them all).
        // SAFETY: a live UUID instance (a GC type: it has slots), currently tracked.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(instance.as_ptr().cast()) };
        Ok(instance)
    }

    pub fn make_decimal<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        self.decimal.bind(py).call1((text,))
    }
}

/// `object.__setattr__(target, name, value)`: no `__setattr__` override runs.
pub fn generic_setattr(
    target: &Bound<'_, PyAny>,
    name: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: all three pointers are live Python objects borrowed for the call (a name that
    // is not a str is refused by CPython with a TypeError).
    let status = unsafe {
        pyo3::ffi::PyObject_GenericSetAttr(target.as_ptr(), name.as_ptr(), value.as_ptr())
    };
    if status == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(target.py()))
    }
}

/// A `datetime.datetime` from civil fields, or None when the year is outside Python's range.
pub fn py_datetime<'py>(
    py: Python<'py>,
    civil: &CivilDateTime,
    tz: Option<&Bound<'py, PyTzInfo>>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(year) = python_year(civil.year) else {
        return Ok(None);
    };
    let value = PyDateTime::new(
        py,
        year,
        civil.month as u8,
        civil.day as u8,
        civil.hour as u8,
        civil.minute as u8,
        civil.second as u8,
        civil.micro,
        tz,
    )?;
    Ok(Some(value.into_any()))
}
