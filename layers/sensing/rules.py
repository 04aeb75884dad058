"""The alarm rule of one sensor as a pure function: (state, reading or clock tick) → (state, actions).

No I/O here: :mod:`layers.sensing.alarms` loads the state row, feeds the
rule and carries out its actions, so the rule is tested alone against a
reference evaluation (``tests/test_sensing_rules.py``) and a restart halfway
through a duration continues from the stored state.

The rule, with levels ``warn <= alarm`` and ``clear < alarm`` (hysteresis):

- a reading at or above ``alarm`` starts (or continues) a *pending* run; the
  alarm is raised once the run has lasted ``min_duration`` (by a reading or
  a clock tick; a reading below ``alarm`` ends the run). Raising opens a
  case, or *reopens* the last one when it was cleared at most ``cooldown``
  before;
- while raised, every reading updates the peak, the last value and the time
  above (seconds since the run began); a reading below ``clear`` clears it;
  readings between ``clear`` and ``alarm`` keep it raised;
- ``warn`` is the displayed level between the two (no case);
- no reading for ``offline_after`` seconds flags the sensor offline, once;
  the next reading brings it back. Offline does not clear an alarm;
- a reading not newer than the last one seen (a late or repeated reading)
  is stored but ignored by the rule: the rule runs forward in time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

Level = Literal["normal", "warn", "alarm"]
ActionKind = Literal["open", "reopen", "update", "clear", "offline", "online"]


@dataclass(frozen=True)
class Thresholds:
    """A sensor's levels and times; ``alarm`` None means the sensor only reports (no alarms)."""

    warn: float | None
    alarm: float | None
    clear: float | None
    min_duration_s: float = 60.0
    offline_after_s: float = 900.0
    cooldown_s: float = 1800.0

    @property
    def clear_level(self) -> float | None:
        """The level below which a raised alarm clears (the warn level when none is set)."""
        if self.alarm is None:
            return None
        if self.clear is not None:
            return self.clear
        return self.warn if self.warn is not None and self.warn < self.alarm else self.alarm


@dataclass(frozen=True)
class State:
    """What the rule remembers between readings (one ``sensor_states`` row)."""

    level: Level = "normal"
    since: datetime | None = None
    pending_since: datetime | None = None
    peak: float | None = None
    last_value: float | None = None
    last_time: datetime | None = None
    time_above_s: float = 0.0
    offline: bool = False
    case_id: int | None = None
    cleared_at: datetime | None = None


@dataclass(frozen=True)
class Action:
    """Something the rule asks for: open/reopen/update/clear the case, or flag offline/online."""

    kind: ActionKind
    time: datetime
    value: float | None = None


def _displayed(value: float, t: Thresholds) -> Level:
    return "warn" if t.warn is not None and value >= t.warn else "normal"


def _raise(state: State, t: Thresholds, now: datetime) -> tuple[State, Action]:
    assert state.pending_since is not None
    reopen = (state.case_id is not None and state.cleared_at is not None
              and (now - state.cleared_at).total_seconds() <= t.cooldown_s)
    raised = replace(state, level="alarm", since=now,
                     time_above_s=(now - state.pending_since).total_seconds())
    return raised, Action("reopen" if reopen else "open", now, state.peak)


def on_reading(state: State, t: Thresholds, time: datetime, value: float) -> tuple[State, list[Action]]:
    """The state after one reading, and what to do about it."""
    if state.last_time is not None and time <= state.last_time:
        return state, []
    actions: list[Action] = []
    if state.offline:
        actions.append(Action("online", time, value))
        state = replace(state, offline=False)
    state = replace(state, last_value=value, last_time=time)
    if t.alarm is None:
        level = _displayed(value, t)
        return (replace(state, level=level, since=time) if level != state.level else state), actions
    if state.level == "alarm":
        began = state.pending_since or time
        clear = t.clear_level
        assert clear is not None
        if value < clear:
            level = _displayed(value, t)
            state = replace(state, level=level, since=time, pending_since=None, cleared_at=time,
                            time_above_s=(time - began).total_seconds())
            actions.append(Action("clear", time, value))
            return state, actions
        state = replace(state, peak=max(state.peak if state.peak is not None else value, value),
                        time_above_s=(time - began).total_seconds())
        actions.append(Action("update", time, value))
        return state, actions
    if value >= t.alarm:
        if state.pending_since is None:
            state = replace(state, pending_since=time, peak=value)
        else:
            state = replace(state, peak=max(state.peak if state.peak is not None else value, value))
        if (time - state.pending_since).total_seconds() >= t.min_duration_s:  # type: ignore[operator]
            state, action = _raise(state, t, time)
            actions.append(action)
            return state, actions
    else:
        state = replace(state, pending_since=None)
    level = _displayed(value, t) if value < t.alarm else "warn"
    if level != state.level:
        state = replace(state, level=level, since=time)
    return state, actions


def on_tick(state: State, t: Thresholds, now: datetime) -> tuple[State, list[Action]]:
    """The state at clock time ``now`` with no new reading: a pending alarm may rise, a quiet sensor go offline."""
    actions: list[Action] = []
    last = state.last_time
    if last is None or now < last:
        return state, actions
    if (not state.offline and state.level != "alarm" and state.pending_since is not None
            and (now - state.pending_since).total_seconds() >= t.min_duration_s
            and (now - last).total_seconds() < t.offline_after_s):
        state, action = _raise(state, t, now)
        actions.append(action)
    if not state.offline and (now - last).total_seconds() >= t.offline_after_s:
        state = replace(state, offline=True)
        actions.append(Action("offline", now))
    return state, actions



def on_readings(state: State, t: Thresholds, readings: list[tuple[datetime, float]]) -> tuple[State, list[Action]]:
    """:func:`on_reading` over ``readings`` in time order, with a fast path for the quiet ones.

    A reading that cannot change anything but the last value (the sensor is
    online, nothing pending or raised, the value below the alarm level and on
    the same displayed level) is only remembered; the full step runs for the
    others. Equal to folding :func:`on_reading` (tested), at a fraction of the
    cost on a batch of ordinary readings.
    """
    actions: list[Action] = []
    last: tuple[datetime, float] | None = None
    for time, value in readings:
        seen = last[0] if last is not None else state.last_time
        if seen is not None and time <= seen:
            continue
        quiet = (not state.offline and state.level != "alarm" and state.pending_since is None
                 and (t.alarm is None or value < t.alarm)
                 and (_displayed(value, t) if t.alarm is None or value < t.alarm else "warn") == state.level
                 and state.last_time is not None)
        if quiet:
            last = (time, value)
            continue
        if last is not None:
            state, last = replace(state, last_time=last[0], last_value=last[1]), None
        state, more = on_reading(state, t, time, value)
        actions.extend(more)
    if last is not None:
        state = replace(state, last_time=last[0], last_value=last[1])
    return state, actions
