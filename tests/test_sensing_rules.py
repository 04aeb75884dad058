"""The alarm rule (layers/sensing/rules.py) against a reference evaluation of whole sequences.

The reference looks at the history as a whole instead of carrying a state:
an alarm rises at the first event (reading or clock tick) at which the
readings since the run began have all been at or above the alarm level for
the minimum duration (and, for a tick, the sensor is not yet quiet for the
offline time); it clears at the first reading below the clear level; a rise
within the cool-down of the last clearing reopens the last case. Offline is
flagged at the first tick at least the offline time after the last reading,
once per silence.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from layers.sensing.rules import State, Thresholds, on_reading, on_readings, on_tick

T0 = datetime(2026, 7, 1, tzinfo=UTC)
RULE = Thresholds(warn=20.0, alarm=40.0, clear=30.0, min_duration_s=60, offline_after_s=600, cooldown_s=900)

Event = tuple[str, float, float]  # ("r", seconds, value) or ("t", seconds, 0)


def run(events: list[Event], rule: Thresholds = RULE, restart_at: int | None = None) -> list[tuple[str, float]]:
    """The rule's actions (kind, seconds), with a case id handed out on open; optionally 'restarted'."""
    state, next_case = State(), 1
    out: list[tuple[str, float]] = []
    for i, (kind, s, value) in enumerate(events):
        if restart_at is not None and i == restart_at:
            state = State(**asdict(state))  # what the database row gives back
        time = T0 + timedelta(seconds=s)
        state, actions = on_reading(state, rule, time, value) if kind == "r" else on_tick(state, rule, time)
        for action in actions:
            if action.kind == "open":
                state = State(**{**asdict(state), "case_id": next_case})
                next_case += 1
            if action.kind != "update":
                out.append((action.kind, (action.time - T0).total_seconds()))
    return out


def _run_start(readings: list[tuple[float, float]], alarm: float) -> float | None:
    """When the run of readings at or above ``alarm`` that ends at the last reading began."""
    start = None
    for s, value in reversed(readings):
        if value < alarm:
            break
        start = s
    return start


def reference(events: list[Event], rule: Thresholds = RULE) -> list[tuple[str, float]]:
    """The same sequence judged from its history (see the module docstring)."""
    out: list[tuple[str, float]] = []
    readings: list[tuple[float, float]] = []
    raised = False
    last_clear: float | None = None
    has_case = False
    offline_flagged_after: float | None = None
    clear = rule.clear if rule.clear is not None else rule.warn
    assert clear is not None and rule.alarm is not None
    alarm = rule.alarm
    for kind, s, value in events:
        if kind == "r":
            if readings and s <= readings[-1][0]:
                continue  # the rule runs forward in time
            if offline_flagged_after is not None:
                out.append(("online", s))
                offline_flagged_after = None
            readings.append((s, value))
        last = readings[-1][0] if readings else None
        if last is None:
            continue
        if kind == "t" and s < last:
            continue
        quiet = kind == "t" and s - last >= rule.offline_after_s
        if raised:
            if kind == "r" and value < clear:
                raised, last_clear = False, s
                out.append(("clear", s))
        else:
            run_start = _run_start(readings, alarm)
            if run_start is not None and s - run_start >= rule.min_duration_s and not (
                    kind == "t" and (quiet or offline_flagged_after is not None)):
                raised = True
                reopen = has_case and last_clear is not None and s - last_clear <= rule.cooldown_s
                out.append(("reopen" if reopen else "open", s))
                has_case = True
        if quiet and offline_flagged_after is None:
            offline_flagged_after = last
            out.append(("offline", s))
    return out


def _seq(pairs: list[tuple[float, float]]) -> list[Event]:
    return [("r", s, v) for s, v in pairs]


def test_rise_needs_the_duration() -> None:
    events = _seq([(0, 41), (30, 45), (59, 50), (60, 42), (90, 50)])
    assert run(events) == reference(events) == [("open", 60)]


def test_flapping_around_the_alarm_level_never_rises() -> None:
    events = _seq([(i * 30, 41 if i % 2 else 39) for i in range(40)])
    assert run(events) == reference(events) == []


def test_a_drop_between_clear_and_alarm_keeps_the_alarm() -> None:
    events = _seq([(0, 45), (60, 45), (120, 35), (180, 31), (240, 29.9)])
    assert run(events) == reference(events) == [("open", 60), ("clear", 240)]


def test_offline_is_flagged_once_and_online_again() -> None:
    events: list[Event] = [("r", 0, 10), ("t", 300, 0), ("t", 600, 0), ("t", 900, 0), ("t", 1200, 0),
                           ("r", 1300, 12), ("t", 1950, 0)]
    assert run(events) == reference(events) == [("offline", 600), ("online", 1300), ("offline", 1950)]


def test_a_tick_raises_a_pending_alarm_once_its_duration_passed() -> None:
    events: list[Event] = [("r", 0, 50), ("t", 30, 0), ("t", 61, 0), ("r", 90, 55)]
    assert run(events) == reference(events) == [("open", 61)]


def test_restart_mid_duration_continues() -> None:
    events = _seq([(0, 41), (30, 45), (60, 50)])
    assert run(events, restart_at=2) == run(events) == reference(events) == [("open", 60)]


def test_rising_within_the_cool_down_reopens() -> None:
    events = _seq([(0, 45), (60, 45), (120, 20), (400, 45), (460, 45), (520, 10), (2000, 45), (2060, 45)])
    assert run(events) == reference(events) == [("open", 60), ("clear", 120), ("reopen", 460), ("clear", 520),
                                                ("open", 2060)]


def test_the_clear_level_defaults_to_the_warn_level() -> None:
    rule = Thresholds(warn=20.0, alarm=40.0, clear=None, min_duration_s=0)
    events = _seq([(0, 45), (10, 25), (20, 19)])
    assert run(events, rule) == reference(events, rule) == [("open", 0), ("clear", 20)]


levels = st.sampled_from([0.0, 15.0, 25.0, 29.9, 30.0, 35.0, 39.9, 40.0, 45.0, 80.0])


@st.composite
def sequences(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = []
    s = 0.0
    for _ in range(draw(st.integers(1, 60))):
        s += draw(st.sampled_from([0.0, 5.0, 20.0, 30.0, 59.0, 60.0, 61.0, 300.0, 700.0, 1000.0]))
        if draw(st.integers(0, 4)) == 0:
            events.append(("t", s, 0.0))
        else:
            # now and then a late reading (older than the last): stored, ignored by the rule
            late = draw(st.integers(0, 9)) == 0
            events.append(("r", max(0.0, s - 45) if late else s, draw(levels)))
    return events


@given(sequences(), st.integers(0, 59))
def test_random_sequences_agree_with_the_reference(events: list[Event], restart: int) -> None:
    assert run(events) == reference(events)
    # a restart anywhere (the state read back from its row) changes nothing
    assert run(events, restart_at=restart) == run(events)


@given(sequences())
def test_at_most_one_case_is_open_at_a_time(events: list[Event]) -> None:
    open_now = 0
    for kind, _ in run(events):
        if kind in ("open", "reopen"):
            open_now += 1
        elif kind == "clear":
            open_now -= 1
        assert open_now in (0, 1)


@given(sequences())
def test_a_batch_gives_what_the_readings_one_by_one_give(events: list[Event]) -> None:
    readings = [(T0 + timedelta(seconds=s), v) for kind, s, v in events if kind == "r"]
    for rule in (RULE, Thresholds(warn=20.0, alarm=None, clear=None)):
        state, one_by_one = State(), []
        for time, value in readings:
            state, actions = on_reading(state, rule, time, value)
            one_by_one.extend(actions)
        assert on_readings(State(), rule, readings) == (state, one_by_one)
        # and from a state carried over, split anywhere
        half = len(readings) // 2
        first, actions = on_readings(State(), rule, readings[:half])
        rest, more = on_readings(first, rule, readings[half:])
        assert (rest, actions + more) == (state, one_by_one)
