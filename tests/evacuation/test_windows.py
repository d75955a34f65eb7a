import pytest

from farcare.evacuation.aircraft import MI_8
from farcare.evacuation.estimates import estimate
from farcare.evacuation.windows import Condition, CountedFrom, LocalProtocol, advice

from .settlements import settlement


def test_stemi_at_uelen_cannot_reach_anadyr_for_primary_pci_in_time():
    # The feldsher at Uelen records the ECG 10 minutes after first contact. By Mi-8 to Anadyr
    # the estimate is 315.2 min (see test_estimates): 10 + 315.2 = 325.2 > 120.
    to_anadyr = estimate(
        origin=settlement("Uelen"), destination=settlement("Anadyr"), aircraft=MI_8
    )
    shown = advice(Condition.STEMI, to_anadyr.total_minutes, 10)

    assert shown.exceeded
    assert shown.counted_from == CountedFrom.FIRST_MEDICAL_CONTACT
    assert shown.window_minutes == 120
    assert shown.expected_minutes == pytest.approx(325.2, abs=0.1)
    assert shown.margin_minutes == pytest.approx(-205.2, abs=0.1)
    assert shown.protocol == LocalProtocol.FIBRINOLYSIS_ON_SITE_THEN_TRANSFER
    assert shown.local_treatment_within_minutes == 10  # fibrinolysis within 10 min of diagnosis


def test_stemi_near_a_capable_hospital_with_the_helicopter_at_hand_goes_for_primary_pci():
    # Mi-8 already at Uelen (dispatch 0), Lavrentiya taken as the capable destination:
    #   0 + 45 + 23.05 = 68.05 min; 10 elapsed → 78.05 ≤ 120, margin 41.95.
    nearby = estimate(
        origin=settlement("Uelen"),
        destination=settlement("Lavrentiya"),
        aircraft=MI_8,
        dispatch_minutes=0,
    )
    shown = advice(Condition.STEMI, nearby.total_minutes, 10)

    assert not shown.exceeded
    assert shown.margin_minutes == pytest.approx(41.95, abs=0.01)
    assert shown.protocol == LocalProtocol.TRANSFER_FOR_PRIMARY_PCI
    assert shown.local_treatment_within_minutes is None

    # With the usual one-hour dispatch the same 85 km is already too far: 10 + 128.05 > 120.
    usual = estimate(
        origin=settlement("Uelen"), destination=settlement("Lavrentiya"), aircraft=MI_8
    )
    assert advice(Condition.STEMI, usual.total_minutes, 10).exceeded


def test_door_to_wire_time_counts_when_given():
    assert not advice(Condition.STEMI, 80, 10).exceeded
    assert advice(Condition.STEMI, 80, 10, arrival_to_treatment_minutes=31).exceeded


@pytest.mark.parametrize(
    ("to_capable", "since_onset", "exceeded"),
    [
        (240, 30, False),  # exactly 4 h 30 min after onset on arrival: still within
        (0, 270, False),  # already at the stroke centre at exactly 4.5 h
        (240, 30.5, True),  # half a minute later: outside
        (120, 200, True),
        (60, 0, False),
    ],
)
def test_stroke_thrombolysis_window_is_four_and_a_half_hours_inclusive(
    to_capable, since_onset, exceeded
):
    shown = advice(Condition.ISCHAEMIC_STROKE, to_capable, since_onset)
    assert shown.window_minutes == 270
    assert shown.counted_from == CountedFrom.SYMPTOM_ONSET
    assert shown.exceeded is exceeded
    assert shown.protocol == (
        LocalProtocol.TRANSFER_WITHOUT_THROMBOLYSIS
        if exceeded
        else LocalProtocol.TRANSFER_FOR_THROMBOLYSIS
    )


def test_the_national_24_hour_target_for_emergencies():
    # Anadyr–Khabarovsk by L-410 is 771.2 min (see test_estimates): within 24 h even after a
    # night's wait for daylight (10 h); a two-day storm is not.
    assert not advice(Condition.EMERGENCY, 771.2, 600).exceeded
    late = advice(Condition.EMERGENCY, 771.2, 48 * 60)
    assert late.exceeded
    assert late.window_minutes == 1440
    assert late.protocol == LocalProtocol.STABILISE_UNDER_TELECONSULTATION_THEN_TRANSFER


def test_negative_minutes_are_refused():
    with pytest.raises(ValueError):
        advice(Condition.STEMI, -1, 0)
    with pytest.raises(ValueError):
        advice(Condition.STEMI, 1, -1)
