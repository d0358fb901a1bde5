"""BrowserState without a window: paging, channel window, scales, calibration, time parsing, events."""

import datetime as dt
import math

import pytest

from app.browser_state import (
    PAGE_LENGTHS,
    SCALE_STEP,
    BrowserState,
    format_hms,
    parse_time,
)
from mmqnet_core.montage import AVERAGE
from mmqnet_core.preprocessing.display_filter import DisplayFilter
from mmqnet_core.recording import Modality


def make_state(duration_s: float = 3600.0, n_rows: int = 40) -> BrowserState:
    state = BrowserState()
    state.reset(duration_s, dt.datetime(2024, 3, 1, 23, 50, 0, tzinfo=dt.timezone.utc))
    state.set_rows(n_rows)
    state.set_view_size(1000.0, 800.0)
    return state


def record(state: BrowserState) -> list[str]:
    seen: list[str] = []
    for name in ("page", "channels", "scale", "mode", "mask_mode", "montage", "filters", "display"):
        state.events.connect(name, lambda n=name: seen.append(n))
    return seen


def test_paging_is_clamped_to_the_recording_and_remembers_the_direction():
    state = make_state(60.0)
    seen = record(state)
    state.scroll_pages(1)
    assert (state.start_s, state.stop_s, state.direction) == (10.0, 20.0, 1)
    state.scroll_pages(-0.25)
    assert state.start_s == 7.5 and state.direction == -1
    state.set_start(math.inf)
    assert state.start_s == 50.0
    state.scroll_pages(-10)
    assert state.start_s == 0.0
    assert seen == ["page"] * 4


def test_page_length_steps_along_the_table_and_refuses_nonsense():
    state = make_state(60.0)
    state.set_page_length(7.0)
    state.step_page_length(-1)
    assert state.page_s == 5.0
    for _ in range(len(PAGE_LENGTHS) + 1):
        state.step_page_length(1)
    assert state.page_s == PAGE_LENGTHS[-1] and state.start_s == 0.0
    with pytest.raises(ValueError, match="page length must be a finite number > 0 s, got 0"):
        state.set_page_length(0)


def test_channel_window_follows_the_height_or_the_choice():
    state = make_state(n_rows=100)
    auto = state.channels_per_page
    assert auto == int(800 / 22 - 0.4)  # MIN_ROW_PX rows
    state.scroll_channel_pages(1)
    assert state.first_row == auto
    state.scroll_channels(100)
    assert state.first_row == 100 - auto  # clamped: the last window is full
    state.set_channels_per_page(8)
    assert state.channels_per_page == 8 and state.first_row == 100 - auto
    state.step_channels_per_page(1)
    assert state.channels_per_page == 10
    state.step_channels_per_page(-2)
    assert state.channels_per_page == 6
    with pytest.raises(ValueError, match="whole number >= 1"):
        state.set_channels_per_page(0)
    # The label strip takes height from the rows.
    state.set_channels_per_page(None)
    state.set_view_size(1000.0, 800.0, strip_px=200.0)
    assert state.channels_per_page == int(600 / 22 - 0.4)


def test_scale_and_gain_change_only_their_target():
    state = make_state()
    state.set_scales({Modality.EEG: 100e-6, Modality.GSR: 1.0})
    state.change_scale(SCALE_STEP, Modality.EEG)
    assert state.scale("EEG") == pytest.approx(100e-6 / SCALE_STEP) and state.scale("GSR") == 1.0
    state.change_scale(2.0)
    assert state.scale("GSR") == 0.5
    state.change_gain(["Fz"], 2.0)
    assert state.gain("Fz") == 2.0 and state.gain("Cz") == 1.0
    state.change_gain(["Fz"], 0.5)
    assert state.gains == {}  # back at 1: forgotten
    with pytest.raises(ValueError, match="amplitude scale of EEG must be a finite number > 0"):
        state.set_scales({Modality.EEG: 0.0})


def test_sensitivity_and_timebase_follow_the_screen_calibration():
    state = make_state(n_rows=10)
    state.set_px_per_mm(4.0)  # 4 px per mm
    state.set_channels_per_page(10)
    row_mm = 800.0 / 10.4 / 4.0
    state.set_scales({Modality.EEG: 70e-6})
    assert state.sensitivity(Modality.EEG) == pytest.approx(70e-6 / row_mm)
    state.set_sensitivity(Modality.EEG, 7e-6)  # 7 uV/mm
    assert state.scale(Modality.EEG) == pytest.approx(7e-6 * row_mm)
    state.set_timebase(30.0)  # 1000 px = 250 mm wide: 250 / 30 s per page
    assert state.page_s == pytest.approx(250 / 30)
    assert state.timebase_mm_s == pytest.approx(30.0)
    with pytest.raises(ValueError, match="timebase must be a finite number > 0 mm/s"):
        state.set_timebase(-1)
    with pytest.raises(ValueError, match="pixels per mm"):
        state.set_px_per_mm(0)


def test_time_format_never_uses_kiloseconds():
    assert format_hms(3025.0) == "50:25"
    assert format_hms(3725.5, decimals=1) == "1:02:05.5"
    state = make_state()
    assert state.format_time(3025.0) == "50:25"
    state.set_clock_time(True)
    assert state.format_time(3025.0) == "00:40:25"  # started at 23:50:00, past midnight


@pytest.mark.parametrize("text, expected", [
    ("125", 125.0), ("125.5 s", 125.5), ("2:05", 125.0), ("1:02:05", 3725.0), ("0:00:01.25", 1.25),
    ("@23:52:05", 125.0), ("@00:10:00", 1200.0),  # clock times, the second one after midnight
])
def test_typed_times_are_read_as_seconds_from_the_start(text, expected):
    start = dt.datetime(2024, 3, 1, 23, 50, 0)
    assert parse_time(text, duration_s=7200.0, start=start) == pytest.approx(expected)


def test_hh_mm_ss_is_a_clock_time_when_the_axis_shows_clock_time():
    start = dt.datetime(2024, 3, 1, 23, 50, 0)
    assert parse_time("23:52:05", duration_s=3600.0, start=start, clock=True) == pytest.approx(125.0)


@pytest.mark.parametrize("text, match", [
    ("abc", "type seconds"), ("1:75", "below 60"), ("1:60:00", "below 60"), ("2:05:00", "outside the recording"),
    ("@12:00:00", "outside the recording"),
])
def test_bad_typed_times_say_what_is_accepted(text, match):
    with pytest.raises(ValueError, match=match):
        parse_time(text, duration_s=3600.0, start=dt.datetime(2024, 3, 1, 23, 50, 0))


def test_clock_time_needs_a_start_time():
    with pytest.raises(ValueError, match="has no start time"):
        parse_time("@10:00:00", duration_s=60.0, start=None)
    state = BrowserState()
    state.reset(60.0, None)
    state.set_clock_time(True)
    assert not state.clock_time


def test_montage_filters_and_modes_emit_their_events_once():
    state = make_state()
    seen = record(state)
    state.set_montage(AVERAGE)
    state.set_montage(AVERAGE)  # unchanged: nothing
    state.set_filter("EEG", DisplayFilter(0.5, 35.0, 50.0))
    state.cycle_mode()
    state.set_mask_mode(True)
    state.set_clip(False)
    assert seen == ["montage", "filters", "mode", "mask_mode", "display"]
    assert state.mode == "cleaned"
    assert state.filters_text() == "EEG 0.5-35 Hz, notch 50 Hz"
    state.set_filters_on(False)
    assert state.filters_text() == "" and state.active_filters() == {}
    state.set_filter("EEG", DisplayFilter())  # an empty filter removes it
    assert state.filters == {}
    with pytest.raises(ValueError, match="mode must be one of"):
        state.set_mode("both overlaid")


def test_batched_changes_emit_each_event_once():
    state = make_state()
    seen = record(state)
    with state.events.batch():
        state.scroll_pages(1)
        state.scroll_pages(1)
        state.set_channels_per_page(4)
    assert seen == ["page", "channels"]
