"""Finding a patient by name in any script, by SNILS, or by birth date, within one's access."""

from datetime import date

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.selectors import who_accessed

from ..conftest import logged_in
from ..factories import PatientFactory


def found(client, query):
    response = client.get("/patients/", {"q": query})
    assert response.status_code == 200
    return [patient.full_name for patient in response.context["results"]]


def test_cyrillic_name_typed_with_e_finds_a_name_written_with_yo(chain, feldsher):
    PatientFactory(home_facility=chain.post, family="Ёлкин", given="Семён")
    client = logged_in(feldsher)
    assert found(client, "елкин семен") == ["Ёлкин Семён Иванович"]
    assert found(client, "ЁЛКИН") == ["Ёлкин Семён Иванович"]


def test_latin_and_hangul_names_are_found_ignoring_case(chain, feldsher):
    PatientFactory(home_facility=chain.post, family="Kim", given="Min-Jun", middle="")
    PatientFactory(home_facility=chain.post, family="김", given="민준", middle="")
    client = logged_in(feldsher)
    assert found(client, "kim min") == ["Kim Min-Jun"]
    assert found(client, "민준") == ["김 민준"]


def test_snils_and_birth_date(chain, feldsher):
    PatientFactory(home_facility=chain.post, snils="11223344595", family="Первый")
    PatientFactory(home_facility=chain.post, birth_date=date(1988, 7, 2), family="Второй")
    client = logged_in(feldsher)
    assert found(client, "112-233-445 95") == ["Первый Иван Иванович"]
    assert found(client, "11223344595") == ["Первый Иван Иванович"]
    assert found(client, "02.07.1988") == ["Второй Иван Иванович"]
    assert found(client, "1988-07-02") == ["Второй Иван Иванович"]


def test_search_shows_only_patients_within_access_and_is_audited(chain, feldsher):
    mine = PatientFactory(home_facility=chain.post, family="Кергинто")
    elsewhere = PatientFactory(home_facility=chain.other_region_post, family="Кергинто")
    PatientFactory(home_facility=chain.sibling_post, family="Кергинто")
    client = logged_in(feldsher)
    assert found(client, "кергинто") == ["Кергинто Иван Иванович"]
    event = AuditEvent.objects.get(action=AuditAction.SEARCH)
    assert event.details["patients_shown"] == [str(mine.uuid)]
    # The patient shown sees the search under "who looked at my record"; one not shown does not.
    assert [line.action for line in who_accessed(mine.uuid)] == ["searched"]
    assert who_accessed(elsewhere.uuid) == []


def test_htmx_search_returns_only_the_results_fragment(chain, feldsher):
    PatientFactory(home_facility=chain.post, family="Нутэвги")
    response = logged_in(feldsher).get("/patients/", {"q": "нутэвги"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Нутэвги" in html
    assert "<html" not in html
