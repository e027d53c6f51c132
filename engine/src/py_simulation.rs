//! The Python face of the database simulation: the rules `Engine.simulate()` and
//! `Engine.fail()` build from their arguments, and `Injection`, the handle both return (a
//! context manager that takes its rule out again).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::core::EngineCore;
use crate::errors::EngineError;
use crate::fault::Fault;
use crate::simulation::{check_seconds, fold, Effect, Latency, Matcher, Rule};

/// `fail(times=...)`: left out, given a count, or None (no limit).
pub enum Times {
    Unset,
    Limit(i64),
    Unlimited,
}

impl<'a, 'py> FromPyObject<'a, 'py> for Times {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(Times::Unlimited);
        }
        obj.extract::<i64>().map(Times::Limit).map_err(|_| {
            EngineError::config(format!(
                "times must be a whole number of failures (1 or more) or None, not {}",
                describe(&obj)
            ))
            .into_pyerr(obj.py())
        })
    }
}

fn describe(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map_or_else(|_| "an unprintable value".to_owned(), |r| r.to_string())
}

fn config(py: Python<'_>, message: String) -> PyErr {
    EngineError::config(message).into_pyerr(py)
}

fn seconds_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let py = value.py();
    let number = if value.is_instance_of::<pyo3::types::PyBool>() {
        None // True is not a latency
    } else {
        value.extract::<f64>().ok()
    };
    let Some(number) = number else {
        return Err(config(
            py,
            format!(
                "{what} must be a number of seconds, not {}",
                describe(value)
            ),
        ));
    };
    check_seconds(what, number).map_err(|e| e.into_pyerr(py))
}

/// `simulate(latency=...)`: seconds, `{"SELECT": seconds, ..., "*": the rest}`, or a callable
/// from the SQL to seconds.
pub fn latency_effect(latency: &Bound<'_, PyAny>, jitter: f64) -> PyResult<Effect> {
    let py = latency.py();
    let jitter = check_seconds("jitter", jitter).map_err(|e| e.into_pyerr(py))?;
    let profile = if let Ok(table) = latency.cast::<PyDict>() {
        let mut verbs = Vec::new();
        let mut other = 0.0;
        for (key, value) in table.iter() {
            let Ok(name) = key.cast::<PyString>() else {
                return Err(config(
                    py,
                    format!(
                        "latency profile keys are statement keywords such as \"SELECT\" (or \
                         \"*\" for the rest), not {}",
                        describe(&key)
                    ),
                ));
            };
            let name = name.to_str()?.trim().to_ascii_uppercase();
            let seconds = seconds_of(&format!("the latency of {name}"), &value)?;
            if name == "*" {
                other = seconds;
            } else {
                verbs.push((name, seconds));
            }
        }
        Latency::ByVerb { verbs, other }
    } else if latency.is_callable() {
        Latency::Computed(latency.clone().unbind())
    } else {
        Latency::Fixed(seconds_of("latency", latency)?)
    };
    Ok(Effect::Latency { profile, jitter })
}

/// `fail(match=...)`: None (every statement), a substring, a compiled regex, or a callable.
fn matcher_of(pattern: Option<&Bound<'_, PyAny>>) -> PyResult<Matcher> {
    let Some(pattern) = pattern.filter(|p| !p.is_none()) else {
        return Ok(Matcher::Every);
    };
    let py = pattern.py();
    if let Ok(text) = pattern.cast::<PyString>() {
        return Ok(Matcher::Text(fold(text.to_str()?)));
    }
    let regex_type = py.import("re")?.getattr("Pattern")?;
    if pattern.is_instance(&regex_type)? {
        return Ok(Matcher::Python(pattern.getattr("search")?.unbind()));
    }
    if pattern.is_callable() {
        return Ok(Matcher::Python(pattern.clone().unbind()));
    }
    Err(config(
        py,
        format!(
            "match must be a substring of the SQL, a compiled regular expression or a callable \
             taking the SQL, not {}",
            describe(pattern)
        ),
    ))
}

/// `fail(...)`'s arguments as a rule.
pub fn fault_effect(
    py: Python<'_>,
    pattern: Option<&Bound<'_, PyAny>>,
    error: Option<&str>,
    times: Times,
    after: i64,
    probability: Option<f64>,
) -> PyResult<Effect> {
    let Some(error) = error else {
        return Err(config(
            py,
            format!(
                "fail() needs error=: one of {}, or a SQLSTATE",
                crate::fault::fault_names().join(", ")
            ),
        ));
    };
    let fault = Fault::parse(error).map_err(|e| e.into_pyerr(py))?;
    let after = u64::try_from(after)
        .map_err(|_| config(py, format!("after must be 0 or more, not {after}")))?;
    if let Some(chance) = probability {
        if !(0.0..=1.0).contains(&chance) {
            return Err(config(
                py,
                format!("probability must be between 0 and 1, not {chance}"),
            ));
        }
    }
    let times = match times {
        // A chance of failure is meant to keep striking; one failure otherwise.
        Times::Unset => probability.is_none().then_some(1),
        Times::Unlimited => None,
        Times::Limit(count) if count >= 1 => Some(count as u64),
        Times::Limit(count) => {
            return Err(config(
                py,
                format!("times must be 1 or more (or None for no limit), not {count}"),
            ))
        }
    };
    Ok(Effect::Fault {
        fault: Arc::new(fault),
        matcher: matcher_of(pattern)?,
        after,
        times,
        probability,
    })
}

/// A latency or a fault injected into an engine's statements, in force until `remove()` or
/// the end of the `with` block it is used in.
#[pyclass(module = "yara_orm._engine", frozen)]
pub struct Injection {
    core: Arc<EngineCore>,
    rule: Arc<Rule>,
}

impl Injection {
    pub fn new(core: Arc<EngineCore>, rule: Arc<Rule>) -> Injection {
        Injection { core, rule }
    }
}

#[pymethods]
impl Injection {
    /// Take it out (statements already decided keep their fate); False if it already was.
    fn remove(&self) -> bool {
        self.core.simulation.remove(self.rule.id)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc_info))]
    fn __exit__(&self, _exc_info: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.remove();
        false
    }

    /// Whether it is still in force.
    #[getter]
    fn active(&self) -> bool {
        self.core.simulation.is_in_force(self.rule.id)
    }

    /// "latency", or the fault's name.
    #[getter]
    fn kind(&self) -> String {
        match &self.rule.effect {
            Effect::Latency { .. } => "latency".to_owned(),
            Effect::Fault { fault, .. } => fault.name.clone(),
        }
    }

    /// Statements it applied to: every statement for a latency, the matching ones for a fault.
    #[getter]
    fn matched(&self) -> u64 {
        self.rule.counts().matched
    }

    /// Statements it delayed (by more than zero) or made fail.
    #[getter]
    fn injected(&self) -> u64 {
        self.rule.counts().injected
    }

    fn __repr__(&self) -> String {
        let state = if self.active() { "active" } else { "removed" };
        format!(
            "<Injection {} {state}: {} matched, {} injected>",
            self.kind(),
            self.matched(),
            self.injected()
        )
    }
}
