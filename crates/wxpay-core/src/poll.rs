//! How often the client asks the merchant server whether an order is paid.
//!
//! A pure function of (elapsed time, attempt number, last state seen), so the same policy
//! drives the browser, the mini-program and tests without a clock: the caller measures time
//! and passes it in. Every client flow ends here because a client-side "ok" is provisional
//! (ARCHITECTURE.md rule 5), and H5 / Native report nothing at all.

use serde::{Deserialize, Serialize};

use crate::state::TradeState;

/// Backoff settings. Times are milliseconds as `u32` (about 49 days), so they cross the wasm
/// boundary as plain JS numbers.
///
/// Fields are public so hosts can build a policy from configuration; [`PollPolicy::next`]
/// stays well-defined for any values (a NaN or < 1 multiplier counts as 1, a maximum below
/// the initial delay caps it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PollPolicy {
    /// Wait before the first query.
    pub initial_delay_ms: u32,
    /// Upper bound of any single wait.
    pub max_delay_ms: u32,
    /// Growth factor of the wait per attempt.
    pub multiplier: f64,
    /// Give up once this much time has passed since polling started.
    pub overall_timeout_ms: u32,
    /// Give up after this many queries; 0 means no limit besides the timeout.
    pub max_attempts: u32,
    /// Fraction (0..=1) by which a wait may be shortened at random, to spread the queries of
    /// many clients. Only used by [`PollPolicy::next_with_random`].
    pub jitter: f64,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "value", rename_all = "lowercase")]
pub enum PollDecision {
    /// Query again after this many milliseconds.
    Wait(u32),
    /// Stop polling.
    Stop(StopReason),
}

/// Why polling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The order is paid (`SUCCESS`, or `REFUND` after payment).
    Paid,
    /// The order can no longer be paid (`CLOSED`, `REVOKED`, `PAYERROR`).
    Ended,
    /// `overall_timeout_ms` has passed; show a "check again" button.
    TimedOut,
    /// `max_attempts` queries were made.
    AttemptsExhausted,
}

impl StopReason {
    /// `"paid"`, `"ended"`, `"timed_out"` or `"attempts_exhausted"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Paid => "paid",
            StopReason::Ended => "ended",
            StopReason::TimedOut => "timed_out",
            StopReason::AttemptsExhausted => "attempts_exhausted",
        }
    }
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self::h5_return()
    }
}

impl PollPolicy {
    /// The H5 return page: WeChat opens `redirect_url` whatever happened, often before the
    /// payment is final, so poll from 1 s, growing ×1.5 to at most 10 s, for 3 minutes.
    pub fn h5_return() -> Self {
        Self {
            initial_delay_ms: 1_000,
            max_delay_ms: 10_000,
            multiplier: 1.5,
            overall_timeout_ms: 180_000,
            max_attempts: 0,
            jitter: 0.2,
        }
    }

    /// A QR code on a desktop page: the payer has to find their phone, so poll steadily
    /// (2 s growing to 5 s) for 15 minutes. `code_url` itself lives two hours; a page that
    /// stays open longer restarts polling on user action.
    pub fn native_qr() -> Self {
        Self {
            initial_delay_ms: 2_000,
            max_delay_ms: 5_000,
            multiplier: 1.2,
            overall_timeout_ms: 900_000,
            max_attempts: 0,
            jitter: 0.2,
        }
    }

    /// After the platform said ok (or cancel, which can hide a dismissed error): the
    /// notification normally lands within seconds, so poll fast for one minute.
    pub fn after_client_result() -> Self {
        Self {
            initial_delay_ms: 500,
            max_delay_ms: 3_000,
            multiplier: 1.5,
            overall_timeout_ms: 60_000,
            max_attempts: 0,
            jitter: 0.2,
        }
    }

    /// The decision without jitter. `elapsed_ms` is the time since polling started,
    /// `attempt` the number of queries made so far, `last_state` what the last one said.
    pub fn next(
        &self,
        elapsed_ms: u32,
        attempt: u32,
        last_state: Option<&TradeState>,
    ) -> PollDecision {
        self.decide(elapsed_ms, attempt, last_state, 0.0)
    }

    /// As [`PollPolicy::next`], shortening the wait by up to `jitter` of itself.
    /// `random_unit` is a caller-supplied number in `[0, 1)` (the core has no RNG); values
    /// outside are clamped and NaN counts as 0.
    pub fn next_with_random(
        &self,
        elapsed_ms: u32,
        attempt: u32,
        last_state: Option<&TradeState>,
        random_unit: f64,
    ) -> PollDecision {
        self.decide(elapsed_ms, attempt, last_state, random_unit)
    }

    /// The un-jittered wait before query number `attempt + 1`, capped by `max_delay_ms`.
    pub fn delay_for_attempt(&self, attempt: u32) -> u32 {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let cap = f64::from(self.max_delay_ms);
        // Beyond a few hundred attempts the product is capped anyway; bound the exponent.
        let exponent = i32::try_from(attempt.min(1_000)).unwrap_or(1_000);
        let raw = f64::from(self.initial_delay_ms) * multiplier.powi(exponent);
        let capped = if raw.is_finite() { raw.min(cap) } else { cap };
        // `capped` is within 0..=u32::MAX, so the conversion is exact after rounding down.
        capped.floor() as u32
    }

    fn decide(
        &self,
        elapsed_ms: u32,
        attempt: u32,
        last_state: Option<&TradeState>,
        random_unit: f64,
    ) -> PollDecision {
        if let Some(state) = last_state {
            if state.is_paid() {
                return PollDecision::Stop(StopReason::Paid);
            }
            if state.is_final() {
                return PollDecision::Stop(StopReason::Ended);
            }
        }
        if elapsed_ms >= self.overall_timeout_ms {
            return PollDecision::Stop(StopReason::TimedOut);
        }
        if self.max_attempts != 0 && attempt >= self.max_attempts {
            return PollDecision::Stop(StopReason::AttemptsExhausted);
        }
        let mut delay = f64::from(self.delay_for_attempt(attempt));
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let unit = if random_unit.is_finite() {
            random_unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        delay -= delay * jitter * unit;
        // Never sleep past the deadline: the last query happens right at the timeout.
        let remaining = self.overall_timeout_ms - elapsed_ms;
        PollDecision::Wait((delay.floor() as u32).min(remaining))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn default_schedule_grows_then_caps() {
        let p = PollPolicy::h5_return();
        let delays: Vec<u32> = (0..8).map(|a| p.delay_for_attempt(a)).collect();
        assert_eq!(
            delays,
            vec![1_000, 1_500, 2_250, 3_375, 5_062, 7_593, 10_000, 10_000]
        );
        assert_eq!(p.next(0, 0, None), PollDecision::Wait(1_000));
        assert_eq!(p.next(179_500, 20, None), PollDecision::Wait(500));
        assert_eq!(
            p.next(180_000, 21, None),
            PollDecision::Stop(StopReason::TimedOut)
        );
    }

    #[test]
    fn states_decide_before_time() {
        let p = PollPolicy::default();
        assert_eq!(
            p.next(10, 1, Some(&TradeState::Success)),
            PollDecision::Stop(StopReason::Paid)
        );
        assert_eq!(
            p.next(10, 1, Some(&TradeState::Refund)),
            PollDecision::Stop(StopReason::Paid)
        );
        assert_eq!(
            p.next(10, 1, Some(&TradeState::Closed)),
            PollDecision::Stop(StopReason::Ended)
        );
        assert_eq!(
            p.next(10, 1, Some(&TradeState::PayError)),
            PollDecision::Stop(StopReason::Ended)
        );
        assert!(matches!(
            p.next(10, 1, Some(&TradeState::NotPay)),
            PollDecision::Wait(_)
        ));
        assert!(matches!(
            p.next(10, 1, Some(&TradeState::UserPaying)),
            PollDecision::Wait(_)
        ));
        assert!(matches!(
            p.next(10, 1, Some(&TradeState::parse("NEW_STATE"))),
            PollDecision::Wait(_)
        ));
    }

    #[test]
    fn attempt_limit() {
        let p = PollPolicy {
            max_attempts: 3,
            ..PollPolicy::default()
        };
        assert!(matches!(p.next(0, 2, None), PollDecision::Wait(_)));
        assert_eq!(
            p.next(0, 3, None),
            PollDecision::Stop(StopReason::AttemptsExhausted)
        );
    }

    #[test]
    fn jitter_only_shortens() {
        let p = PollPolicy::default();
        assert_eq!(
            p.next_with_random(0, 0, None, 0.0),
            PollDecision::Wait(1_000)
        );
        assert_eq!(p.next_with_random(0, 0, None, 0.5), PollDecision::Wait(900));
        assert_eq!(
            p.next_with_random(0, 0, None, f64::NAN),
            PollDecision::Wait(1_000)
        );
        assert_eq!(p.next_with_random(0, 0, None, 7.0), PollDecision::Wait(800));
    }

    #[test]
    fn nonsense_settings_stay_defined() {
        let p = PollPolicy {
            multiplier: f64::NAN,
            jitter: f64::INFINITY,
            ..PollPolicy::default()
        };
        assert_eq!(p.next(0, 50, None), PollDecision::Wait(1_000));
        let p = PollPolicy {
            multiplier: 1e300,
            ..PollPolicy::default()
        };
        assert_eq!(p.next(0, 900, None), PollDecision::Wait(10_000));
    }

    /// Property tests need proptest, a native-only dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn arb_state() -> impl Strategy<Value = Option<TradeState>> {
            prop_oneof![
                Just(None),
                Just(Some(TradeState::NotPay)),
                Just(Some(TradeState::UserPaying)),
                Just(Some(TradeState::Success)),
                Just(Some(TradeState::Closed)),
                Just(Some(TradeState::Revoked)),
                Just(Some(TradeState::PayError)),
                Just(Some(TradeState::Refund)),
                "[A-Z_]{1,12}".prop_map(|s| Some(TradeState::parse(&s))),
            ]
        }

        fn arb_policy() -> impl Strategy<Value = PollPolicy> {
            (
                any::<u32>(),
                any::<u32>(),
                any::<f64>(),
                any::<u32>(),
                0u32..10,
                any::<f64>(),
            )
                .prop_map(
                    |(
                        initial_delay_ms,
                        max_delay_ms,
                        multiplier,
                        overall_timeout_ms,
                        max_attempts,
                        jitter,
                    )| PollPolicy {
                        initial_delay_ms,
                        max_delay_ms,
                        multiplier,
                        overall_timeout_ms,
                        max_attempts,
                        jitter,
                    },
                )
        }

        proptest! {
            #[test]
            fn never_waits_longer_than_max_or_past_deadline(
                p in arb_policy(), elapsed in any::<u32>(), attempt in any::<u32>(),
                state in arb_state(), r in any::<f64>(),
            ) {
                if let PollDecision::Wait(ms) = p.next_with_random(elapsed, attempt, state.as_ref(), r) {
                    prop_assert!(ms <= p.max_delay_ms);
                    prop_assert!(elapsed < p.overall_timeout_ms);
                    prop_assert!(ms <= p.overall_timeout_ms - elapsed);
                }
            }

            #[test]
            fn always_stops_after_timeout(
                p in arb_policy(), extra in any::<u32>(), attempt in any::<u32>(), state in arb_state(),
            ) {
                let elapsed = p.overall_timeout_ms.saturating_add(extra);
                prop_assert!(matches!(p.next(elapsed, attempt, state.as_ref()), PollDecision::Stop(_)));
            }

            #[test]
            fn stops_on_final_states(p in arb_policy(), elapsed in any::<u32>(), attempt in any::<u32>(), state in arb_state()) {
                if let Some(s) = state.as_ref().filter(|s| s.is_final()) {
                    let expected = if s.is_paid() { StopReason::Paid } else { StopReason::Ended };
                    prop_assert_eq!(p.next(elapsed, attempt, Some(s)), PollDecision::Stop(expected));
                }
            }

            #[test]
            fn a_real_loop_terminates(p in arb_policy(), timeout in 0u32..200_000, r in 0.0f64..1.0) {
                // Simulate the caller: add each wait (plus 1 ms of request time) to the clock.
                // The timeout is bounded only to keep the loop short in a test.
                let p = PollPolicy { overall_timeout_ms: timeout, ..p };
                let mut elapsed: u32 = 0;
                let mut attempt: u32 = 0;
                while let PollDecision::Wait(ms) = p.next_with_random(elapsed, attempt, Some(&TradeState::NotPay), r) {
                    elapsed = elapsed.saturating_add(ms).saturating_add(1);
                    attempt += 1;
                }
                prop_assert!(elapsed >= p.overall_timeout_ms || (p.max_attempts != 0 && attempt >= p.max_attempts));
            }
        }
    }
}
