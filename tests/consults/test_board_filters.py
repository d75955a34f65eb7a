"""The board's filters and counts as faceted search: each choice counts what it would show with
the other filters kept; a request comes from the district of the nearest hospital above its post."""

from farcare.consults.board import BoardCase, district_of, facet_counts, matching, query_with

CASES = [
    BoardCase(
        1,
        {
            "district": "a",
            "specialty": "cardiology",
            "form": "emergency",
            "news2": "high",
            "deadline": "breached",
        },
    ),
    BoardCase(
        2,
        {
            "district": "a",
            "specialty": "cardiology",
            "form": "urgent",
            "news2": "none",
            "deadline": "ok",
        },
    ),
    BoardCase(
        3,
        {
            "district": "b",
            "specialty": "neurology",
            "form": "emergency",
            "news2": "low",
            "deadline": "high",
        },
    ),
]


def test_a_choice_counts_what_it_would_show_with_the_other_filters_kept():
    chosen = {"form": "emergency"}
    assert [case.pk for case in matching(CASES, chosen)] == [1, 3]
    counts = facet_counts(CASES, chosen)
    assert counts["form"] == {"emergency": 2, "urgent": 1}  # its own facet: as if not chosen
    assert counts["district"] == {"a": 1, "b": 1}
    assert counts["deadline"] == {"breached": 1, "high": 1}


def test_filters_combine():
    chosen = {"district": "a", "form": "emergency"}
    assert [case.pk for case in matching(CASES, chosen)] == [1]
    assert facet_counts(CASES, chosen)["specialty"] == {"cardiology": 1}


def test_links_keep_the_other_filters_in_a_fixed_order():
    assert query_with({"form": "urgent", "district": "a"}, "news2", "high") == (
        "?district=a&form=urgent&news2=high"
    )
    assert query_with({"form": "urgent"}, "form", "") == "?"


def test_a_post_belongs_to_the_district_of_the_first_hospital_above_it():
    kinds = {1: "feldsher_post", 2: "feldsher_post", 3: "district_hospital", 4: "regional_hub"}
    up = {1: [3], 2: [4], 3: [4]}
    assert district_of(1, kinds, up) == 3
    assert district_of(2, kinds, up) == 4  # a post under the hub itself
    assert district_of(3, kinds, up) == 3
    assert district_of(4, kinds, up) == 4
