//! The database simulation of one engine: latency and faults injected into its statements.
//!
//! What happens to a statement is decided as it enters the engine, in call order and with the
//! GIL held (a latency profile or a match may be a Python callable), and carried out in its
//! I/O phase: the delay is slept on the runtime with the GIL released, so concurrent statements
//! overlap their delays as real round trips do. Unused, the simulation costs one relaxed atomic
//! load per statement.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

use crate::errors::EngineError;
use crate::fault::Fault;
use crate::savepoint::next_id;

/// How long statements take, in seconds.
pub enum Latency {
    Fixed(f64),
    /// By the statement's first keyword (upper case); `other` for the rest.
    ByVerb {
        verbs: Vec<(String, f64)>,
        other: f64,
    },
    /// A Python callable from the SQL to seconds.
    Computed(Py<PyAny>),
}

/// Which statements a fault applies to.
pub enum Matcher {
    Every,
    /// Lower case and without double quotes, compared with the SQL made the same, so
    /// `INSERT INTO book` matches `INSERT INTO "book" ...`.
    Text(String),
    /// A callable (or a compiled regex's `search`) whose result's truth decides.
    Python(Py<PyAny>),
}

/// What one rule does.
pub enum Effect {
    Latency {
        profile: Latency,
        /// Seconds added or taken at random (never below zero in all).
        jitter: f64,
    },
    Fault {
        fault: Arc<Fault>,
        matcher: Matcher,
        /// Matching statements let through before the first failure.
        after: u64,
        /// Failures in all (None: no limit).
        times: Option<u64>,
        /// The chance that an eligible statement fails (None: every one).
        probability: Option<f64>,
    },
}

/// How many statements a rule saw and changed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Matched (every statement, for latency).
    pub matched: u64,
    /// Failed, or delayed by more than zero.
    pub injected: u64,
}

struct Counters {
    counts: Counts,
    rng: SplitMix64,
}

pub struct Rule {
    pub id: u64,
    pub effect: Effect,
    counters: Mutex<Counters>,
}

/// What happens to one statement.
pub struct Decision {
    pub delay: Duration,
    pub fault: Option<Arc<Fault>>,
}

/// A poisoned lock only means a panic elsewhere; counters and rule lists stay consistent.
fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Rule {
    pub fn counts(&self) -> Counts {
        unpoisoned(&self.counters).counts
    }

    /// One more matching statement: whether it fails.
    fn strikes(&self, after: u64, times: Option<u64>, probability: Option<f64>) -> bool {
        let mut counters = unpoisoned(&self.counters);
        counters.counts.matched += 1;
        if counters.counts.matched <= after
            || times.is_some_and(|limit| counters.counts.injected >= limit)
        {
            return false;
        }
        // Drawn only for eligible statements, so a seed gives the same failures every run.
        if probability.is_some_and(|chance| counters.rng.unit() >= chance) {
            return false;
        }
        counters.counts.injected += 1;
        true
    }

    /// One more statement at `base` seconds: its delay, jitter drawn.
    fn delay(&self, base: f64, jitter: f64) -> Duration {
        let mut counters = unpoisoned(&self.counters);
        counters.counts.matched += 1;
        let seconds = if jitter > 0.0 {
            base + jitter * (2.0 * counters.rng.unit() - 1.0)
        } else {
            base
        };
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            0.0
        };
        if seconds > 0.0 {
            counters.counts.injected += 1;
        }
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }
}

#[derive(Default)]
pub struct Simulation {
    /// Whether any rule is in force: the one check an unused simulation costs.
    active: AtomicBool,
    /// In the order they were added; the latest latency rule, and the latest fault that
    /// strikes, decide.
    rules: Mutex<Vec<Arc<Rule>>>,
}

impl Simulation {
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn add(&self, effect: Effect, seed: Option<u64>) -> Arc<Rule> {
        let rule = Arc::new(Rule {
            id: next_id(),
            effect,
            counters: Mutex::new(Counters {
                counts: Counts::default(),
                rng: SplitMix64::new(seed),
            }),
        });
        let mut rules = unpoisoned(&self.rules);
        rules.push(Arc::clone(&rule));
        self.active.store(true, Ordering::Relaxed);
        rule
    }

    /// Take a rule out; false if it already was.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = unpoisoned(&self.rules);
        let before = rules.len();
        rules.retain(|rule| rule.id != id);
        self.active.store(!rules.is_empty(), Ordering::Relaxed);
        rules.len() != before
    }

    pub fn is_in_force(&self, id: u64) -> bool {
        unpoisoned(&self.rules).iter().any(|rule| rule.id == id)
    }

    /// The rules in force, oldest first.
    pub fn rules(&self) -> Vec<Arc<Rule>> {
        unpoisoned(&self.rules).clone()
    }

    /// What happens to the statement `sql`, if anything. Python callables run here, with the
    /// GIL held and no lock of the simulation taken (they may do anything, even run SQL).
    pub fn decide(&self, py: Python<'_>, sql: &str) -> PyResult<Option<Decision>> {
        self.decide_for(py, sql, true)
    }

    /// The fault that strikes a transaction's COMMIT, if one does (COMMIT is not delayed:
    /// latency is per query, as the query log counts them).
    pub fn commit_fault(&self, py: Python<'_>) -> PyResult<Option<Arc<Fault>>> {
        if !self.is_active() {
            return Ok(None);
        }
        Ok(self
            .decide_for(py, "COMMIT", false)?
            .and_then(|decision| decision.fault))
    }

    fn decide_for(&self, py: Python<'_>, sql: &str, delays: bool) -> PyResult<Option<Decision>> {
        let rules = self.rules();
        let folded = OnceCell::new();
        let mut delay = None;
        let mut fault = None;
        for rule in rules.iter().rev() {
            match &rule.effect {
                Effect::Latency { profile, jitter } if delays && delay.is_none() => {
                    let base = profile.seconds(py, sql)?;
                    delay = Some(rule.delay(base, *jitter));
                }
                Effect::Fault {
                    fault: injected,
                    matcher,
                    after,
                    times,
                    probability,
                } if fault.is_none() => {
                    let strikes = matcher.matches(py, sql, &folded)?
                        && rule.strikes(*after, *times, *probability);
                    fault = strikes.then(|| Arc::clone(injected));
                }
                _ => {}
            }
        }
        let delay = delay.unwrap_or(Duration::ZERO);
        Ok((!delay.is_zero() || fault.is_some()).then_some(Decision { delay, fault }))
    }
}

/// The SQL's first keyword, upper case: `SELECT`, `INSERT`, `WITH`...
fn verb(sql: &str) -> String {
    sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The SQL as a text matcher compares it: lower case, without double quotes.
pub fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"')
        .collect::<String>()
        .to_lowercase()
}

/// Longer than any round trip worth simulating: a value above it is a mistake (milliseconds
/// given as seconds).
const MOST_SECONDS: f64 = 3600.0;

fn bad_value(what: &str, value: impl std::fmt::Display) -> EngineError {
    EngineError::config(format!(
        "{what} must be a number of seconds from 0 to {MOST_SECONDS}, not {value}"
    ))
}

/// A delay in seconds as given by the user: from 0 to an hour.
pub fn check_seconds(what: &str, value: f64) -> Result<f64, EngineError> {
    if (0.0..=MOST_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(bad_value(what, value))
    }
}

impl Latency {
    fn seconds(&self, py: Python<'_>, sql: &str) -> PyResult<f64> {
        match self {
            Latency::Fixed(seconds) => Ok(*seconds),
            Latency::ByVerb { verbs, other } => {
                let verb = verb(sql);
                Ok(verbs
                    .iter()
                    .find(|(name, _)| *name == verb)
                    .map_or(*other, |(_, seconds)| *seconds))
            }
            Latency::Computed(function) => {
                let value = function.bind(py).call1((sql,))?;
                if value.is_none() {
                    return Ok(0.0);
                }
                let seconds = value.extract::<f64>().map_err(|_| {
                    bad_value(
                        "the latency function's result",
                        value.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
                    )
                    .into_pyerr(py)
                })?;
                check_seconds("the latency function's result", seconds)
                    .map_err(|e| e.into_pyerr(py))
            }
        }
    }
}

impl Matcher {
    fn matches(&self, py: Python<'_>, sql: &str, folded: &OnceCell<String>) -> PyResult<bool> {
        match self {
            Matcher::Every => Ok(true),
            Matcher::Text(needle) => Ok(folded.get_or_init(|| fold(sql)).contains(needle.as_str())),
            Matcher::Python(function) => function.bind(py).call1((sql,))?.is_truthy(),
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same draws on every
/// platform, which is all reproducible faults and jitter need.
struct SplitMix64(u64);

static UNSEEDED: AtomicU64 = AtomicU64::new(0);

impl SplitMix64 {
    fn new(seed: Option<u64>) -> Self {
        SplitMix64(seed.unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64);
            now ^ UNSEEDED
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        }))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault_rule(after: u64, times: Option<u64>, probability: Option<f64>, seed: u64) -> Rule {
        Rule {
            id: 1,
            effect: Effect::Fault {
                fault: Arc::new(Fault::parse("deadlock").unwrap()),
                matcher: Matcher::Every,
                after,
                times,
                probability,
            },
            counters: Mutex::new(Counters {
                counts: Counts::default(),
                rng: SplitMix64::new(Some(seed)),
            }),
        }
    }

    fn pattern(rule: &Rule, after: u64, times: Option<u64>, probability: Option<f64>) -> Vec<bool> {
        (0..40)
            .map(|_| rule.strikes(after, times, probability))
            .collect()
    }

    #[test]
    fn after_and_times_pick_which_matching_statements_fail() {
        let rule = fault_rule(2, Some(3), None, 0);
        let failed = pattern(&rule, 2, Some(3), None);
        let positions: Vec<usize> = (0..40).filter(|i| failed[*i]).collect();
        assert_eq!(positions, vec![2, 3, 4]);
        assert_eq!(rule.counts().matched, 40);
        assert_eq!(rule.counts().injected, 3);
    }

    #[test]
    fn a_seed_gives_the_same_random_failures_every_time() {
        let first = pattern(&fault_rule(0, None, Some(0.3), 7), 0, None, Some(0.3));
        let again = pattern(&fault_rule(0, None, Some(0.3), 7), 0, None, Some(0.3));
        let other = pattern(&fault_rule(0, None, Some(0.3), 8), 0, None, Some(0.3));
        assert_eq!(first, again);
        assert_ne!(first, other);
        let count = first.iter().filter(|failed| **failed).count();
        assert!((3..=25).contains(&count), "{count} of 40");
    }

    #[test]
    fn jitter_stays_around_the_latency_and_never_below_zero() {
        let rule = fault_rule(0, None, None, 3);
        for _ in 0..100 {
            let delay = rule.delay(0.002, 0.001).as_secs_f64();
            assert!((0.001..=0.003).contains(&delay), "{delay}");
            assert!(rule.delay(0.0005, 0.001) >= Duration::ZERO);
        }
    }

    #[test]
    fn verbs_and_folded_text() {
        assert_eq!(verb("  (SELECT 1)"), "SELECT");
        assert_eq!(verb("insert into t"), "INSERT");
        assert_eq!(
            fold(r#"INSERT INTO "Book" ("title")"#),
            "insert into book (title)"
        );
    }
}
