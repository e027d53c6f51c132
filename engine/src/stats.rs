//! Per-statement timings, measured in Rust for every statement. They cost a few clock reads;
//! a Python `QueryStats` object is only built when the caller asked for it.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Timings gathered while a statement travels from Python to the server and back.
#[derive(Debug, Clone, Copy)]
pub struct StatsDraft {
    started: Instant,
    /// Converting parameters, under the GIL, before the statement left Python.
    bind: Duration,
    io_started: Instant,
    io_finished: Instant,
    /// Latency the database simulation added to the I/O phase.
    pub simulated: Duration,
}

impl StatsDraft {
    /// Begin measuring; call as the statement enters the engine (the GIL is held).
    pub fn start() -> Self {
        let now = Instant::now();
        StatsDraft {
            started: now,
            bind: Duration::ZERO,
            io_started: now,
            io_finished: now,
            simulated: Duration::ZERO,
        }
    }

    /// Parameters are converted; the GIL is about to be released.
    pub fn bound(&mut self) {
        let now = Instant::now();
        self.bind = now - self.started;
        self.io_started = now;
        self.io_finished = now;
    }

    /// The reply is in memory; from here the engine waits for the GIL.
    pub fn io_done(&mut self) {
        self.io_finished = Instant::now();
    }

    /// Close the measurement: `gil_acquired` is when decoding began, `decoded` when it ended.
    pub fn finish(&self, gil_acquired: Instant, decoded: Instant, rows: usize) -> QueryStats {
        let gil_wait = gil_acquired.saturating_duration_since(self.io_finished);
        let decode = decoded.saturating_duration_since(gil_acquired);
        QueryStats {
            gil_wait: gil_wait.as_secs_f64(),
            gil_held: (self.bind + decode).as_secs_f64(),
            io: self
                .io_finished
                .saturating_duration_since(self.io_started)
                .as_secs_f64(),
            total: decoded
                .saturating_duration_since(self.started)
                .as_secs_f64(),
            rows,
            simulated: self.simulated.as_secs_f64(),
        }
    }
}

/// How one statement spent its time, in seconds.
#[pyclass(module = "yara_orm._engine", frozen, get_all)]
#[derive(Debug, Clone)]
pub struct QueryStats {
    /// From the end of I/O until the result began to be built: the event loop picking it up
    /// (small results) or a thread getting the GIL (large ones).
    pub gil_wait: f64,
    /// Holding the GIL: converting parameters plus building Python objects from rows.
    pub gil_held: f64,
    /// With the GIL released: pool acquire, send, server time, receive and wire parsing.
    pub io: f64,
    /// From the call until the result was built.
    pub total: f64,
    /// Rows returned (fetches) or affected (other statements).
    pub rows: usize,
    /// Latency the database simulation added (part of `io`); 0 without a simulation.
    pub simulated: f64,
}

#[pymethods]
impl QueryStats {
    fn __repr__(&self) -> String {
        format!(
            "QueryStats(total={:.6}, io={:.6}, gil_held={:.6}, gil_wait={:.6}, rows={}, \
             simulated={:.6})",
            self.total, self.io, self.gil_held, self.gil_wait, self.rows, self.simulated
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_plus_released_never_exceeds_total() {
        let mut draft = StatsDraft::start();
        std::thread::sleep(Duration::from_millis(2));
        draft.bound();
        std::thread::sleep(Duration::from_millis(3));
        draft.io_done();
        let acquired = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        let stats = draft.finish(acquired, Instant::now(), 7);
        assert!(stats.gil_held + stats.io <= stats.total + 1e-9, "{stats:?}");
        assert!(stats.io >= 0.003, "{stats:?}");
        assert!(stats.gil_held >= 0.003, "{stats:?}");
        assert_eq!(stats.rows, 7);
    }
}
