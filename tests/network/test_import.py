"""Operators load facilities from a CSV register with `farcare import-network`; a file with bad
rows names each one and changes nothing."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from farcare.demo.loader import NETWORK_CSV, load_demo
from farcare.network.models import (
    Facility,
    FacilityKind,
    Practitioner,
    ReferralLink,
    Settlement,
    Specialty,
)
from farcare.network.selectors import referral_chain
from farcare.patients.models import Patient

HEADER = "name_en,name_ru,region,lat,lon,population,tz,role\n"


def run_import(tmp_path, text):
    path = tmp_path / "network.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_network", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_shipped_register_imports_with_a_chain_for_every_facility(db, tmp_path):
    out, _err = run_import(tmp_path, NETWORK_CSV.read_text(encoding="utf-8"))
    rows = NETWORK_CSV.read_text(encoding="utf-8").strip().splitlines()[1:]
    assert Facility.objects.count() == len(rows)
    assert "created" in out
    uelen = Facility.objects.get(settlement__name_en="Uelen")
    assert uelen.kind == FacilityKind.FELDSHER_POST
    assert uelen.time_zone == "Asia/Anadyr"
    chain = [step.facility.settlement.name_en for step in referral_chain(uelen)]
    assert chain[-2:] == ["Anadyr", "Moscow"]
    assert chain[0] in {"Lavrentiya", "Egvekinot", "Provideniya", "Pevek", "Bilibino"}
    seoul = Facility.objects.get(settlement__name_en="Seoul (Sinchon)")
    assert (seoul.country, seoul.kind, seoul.time_zone) == ("KR", "partner_abroad", "Asia/Seoul")


def test_bad_rows_are_each_named_and_nothing_is_imported(db, tmp_path):
    text = HEADER + (
        "Uelen,Уэлен,Chukotka,66.159,-169.809,650,Asia/Anadyr,feldsher_station\n"
        "Nowhere,Нигде,Chukotka,abc,10,5,Asia/Anadyr,feldsher_station\n"
        "Atlantis,Атлантида,Chukotka,60,10,5,Asia/Atlantis,feldsher_station\n"
        "Castle,Замок,Chukotka,60,10,5,Asia/Anadyr,castle\n"
        ",Пусто,Chukotka,60,10,5,Asia/Anadyr,feldsher_station\n"
    )
    with pytest.raises(CommandError, match="4 problem"):
        run_import(tmp_path, text)
    assert not Facility.objects.exists()
    assert not Settlement.objects.exists()


def test_bad_rows_are_reported_on_stderr_with_row_numbers(db, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "X,Х,Chukotka,99,10,5,Asia/Anadyr,feldsher_station\n", encoding="utf-8"
    )
    err = io.StringIO()
    with pytest.raises(CommandError), translation.override(settings.LANGUAGE_CODE):  # console
        call_command("import_network", str(path), stderr=err)
    # the console speaks the deployment's language (FARCARE_LANGUAGE_CODE, Russian by default)
    assert "строка 2" in err.getvalue()
    assert "широта" in err.getvalue()


def test_missing_columns_are_named(db, tmp_path):
    with pytest.raises(CommandError):
        run_import(tmp_path, "name_en,region\nUelen,Chukotka\n")


def test_importing_the_same_file_twice_changes_nothing(db, tmp_path):
    text = NETWORK_CSV.read_text(encoding="utf-8")
    run_import(tmp_path, text)
    before = list(Facility.objects.values().order_by("pk")), ReferralLink.objects.count()
    out, _err = run_import(tmp_path, text)
    after = list(Facility.objects.values().order_by("pk")), ReferralLink.objects.count()
    assert before == after
    assert "0 created, 0 updated" in out


def test_the_demo_network_is_whole_and_loading_it_twice_changes_nothing(db):
    load_demo()

    def snapshot():
        return (
            list(Facility.objects.values().order_by("pk")),
            list(ReferralLink.objects.values().order_by("pk")),
            list(Practitioner.objects.values().order_by("pk")),
            list(Patient.objects.values().order_by("pk")),
        )

    first = snapshot()
    load_demo()
    assert snapshot() == first

    assert Practitioner.objects.count() >= 38
    assert Specialty.objects.filter(practitioner__isnull=False).distinct().count() >= 10
    spoken = {code for p in Practitioner.objects.all() for code in p.languages}
    assert {"ru", "ko", "en"} <= spoken
    kinds = set(Facility.objects.values_list("kind", flat=True))
    assert kinds == set(FacilityKind.values)
    # Korean partners are routed to from every hub, for some specialties only, as backups.
    partner_links = ReferralLink.objects.filter(target__kind=FacilityKind.PARTNER_ABROAD)
    assert partner_links.exists()
    assert not partner_links.filter(specialty__isnull=True).exists()
    assert not partner_links.filter(rank=1).exists()


def test_each_place_reads_in_the_readers_language(db, tmp_path):
    """The register's Korean names name the settlement and its facility for a Korean reader;
    a register without them falls back to English, never to another reader's script."""
    run_import(
        tmp_path,
        "name_en,name_ru,name_ko,region,lat,lon,population,tz,role\n"
        "Uelen,Уэлен,우엘렌,Chukotka,66.159,-169.809,650,Asia/Anadyr,feldsher_station\n"
        "Seoul (Sinchon),Сеул (Синчхон),서울 (신촌),Korea,37.562,126.941,9400000,Asia/Seoul,"
        "partner_hospital\n",
    )
    run_import(
        tmp_path, HEADER + "Lorino,Лорино,Chukotka,65.5,-171.7,1300,Asia/Anadyr,feldsher_station\n"
    )
    uelen = Facility.objects.get(settlement__name_en="Uelen")
    seoul = Facility.objects.get(settlement__name_en="Seoul (Sinchon)")
    lorino = Facility.objects.get(settlement__name_en="Lorino")
    with translation.override("ko"):
        assert (uelen.name, uelen.settlement.name) == ("우엘렌 펠셔·조산 진료소", "우엘렌")
        assert seoul.name == "협력 병원, 서울 (신촌)"
        assert lorino.settlement.name == "Lorino"
    with translation.override("ru"):
        assert (seoul.name, seoul.settlement.name) == (
            "Партнёрская клиника, Сеул (Синчхон)",
            "Сеул (Синчхон)",
        )
    with translation.override("en"):
        assert (seoul.name, uelen.settlement.name) == ("Partner hospital, Seoul (Sinchon)", "Uelen")
