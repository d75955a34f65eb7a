"""Reads of learning: what a learner may take and has earned, survey results in aggregate,
the public check of a certificate, and training coverage per facility for analysts.

Aggregates never show a count from 1 to 4 (it could point at a person): such a cell reads "×"
(`core.suppression.SUPPRESSED_TEXT`) and nothing derived from it (a mean, the texts written,
hours) is shown. Where a total is shown
beside its parts (coverage: a region's facilities and the region), a second cell is hidden too
so that the first cannot be found by subtraction (farcare.core.suppression)."""

from __future__ import annotations

import hmac
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db.models import Avg, Count, QuerySet

from farcare.accounts.models import User
from farcare.core.suppression import (
    SMALL_CELL,
    SUPPRESSED_TEXT,
    Line,
    is_small,
    protect,
    shown,
    suppress,
    suppress_lines,
)
from farcare.network.models import Facility
from farcare.training.models import Attendance, Enrolment, Programme, SessionStatus
from farcare.training.selectors import LEARNER_ROLES

from . import codes
from .models import (
    Attempt,
    Certificate,
    QuestionKind,
    Quiz,
    Survey,
    SurveyAnswer,
    SurveyPhase,
    SurveyQuestion,
)

# The rule of farcare.core.suppression, under the names the survey pages use.
MIN_COUNT = SMALL_CELL
SUPPRESSED = SUPPRESSED_TEXT


def suppressed(count: int) -> str:
    """A count as an aggregate page shows it, when nothing beside it adds up to a total."""
    return suppress(count)


# --- the learner -------------------------------------------------------------------------------


def surveys_of(programme: Programme) -> QuerySet[Survey]:
    return Survey.objects.filter(programme=programme).prefetch_related("questions")


def quizzes_of(programme: Programme) -> QuerySet[Quiz]:
    return Quiz.objects.filter(programme=programme).select_related("session")


def answered_survey_ids(learner: User) -> set[int]:
    return set(Survey.objects.filter(responses__learner=learner).values_list("pk", flat=True))


def attempts_of(quiz: Quiz, learner: User) -> QuerySet[Attempt]:
    return Attempt.objects.filter(quiz=quiz, learner=learner).order_by("number")


def certificates_of(learner: User) -> QuerySet[Certificate]:
    return Certificate.objects.filter(learner=learner).select_related("programme")


def certificates_for(programme: Programme) -> QuerySet[Certificate]:
    return Certificate.objects.filter(programme=programme).select_related("learner")


# --- survey results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSummary:
    question: SurveyQuestion
    answered: int
    mean: Decimal | None
    # (label, count as shown) per scale point or choice.
    counts: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    # The number who answered, hidden as the complement of a small count of one answer.
    total_hidden: bool = False

    @property
    def answered_shown(self) -> str:
        return shown(self.answered, hidden=True) if self.total_hidden else suppressed(self.answered)


# The key of "how many answered" among a question's counts ("answer:<value>").
_ANSWERED = "answered"


def _mean(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def survey_summary(survey: Survey) -> list[QuestionSummary]:
    rows = []
    for question in survey.questions.all():
        answers = SurveyAnswer.objects.filter(question=question)
        if question.kind == QuestionKind.TEXT:
            written = sorted(text for text in answers.values_list("text", flat=True) if text)
            rows.append(
                QuestionSummary(
                    question,
                    len(written),
                    None,
                    texts=written if len(written) >= MIN_COUNT else [],
                )
            )
            continue
        column = "scale" if question.kind == QuestionKind.LIKERT else "choice"
        tally = dict(answers.values_list(column).annotate(n=Count("pk")).values_list(column, "n"))
        labels = (
            [(value, str(value)) for value in range(1, 6)]
            if question.kind == QuestionKind.LIKERT
            else list(enumerate(question.choices))
        )
        answered = sum(tally.values())
        # The answers add up to the number who answered: a line, so one hidden count beside
        # it is hidden with a second one (or with the total), as on every aggregate page.
        points = {f"answer:{value}": tally.get(value, 0) for value, _label in labels}
        hidden = protect(
            {**points, _ANSWERED: answered},
            [Line(total=_ANSWERED, members=tuple(points))],
        )
        mean = None
        # The mean is one more equation over the counts: with any of them hidden it could
        # give them back, so it is shown only when every count is.
        if question.kind == QuestionKind.LIKERT and answered >= MIN_COUNT and not hidden:
            mean = _mean(answers.aggregate(m=Avg("scale"))["m"])
        counts = [
            (label, shown(points[f"answer:{value}"], hidden=f"answer:{value}" in hidden))
            for value, label in labels
        ]
        rows.append(
            QuestionSummary(
                question, answered, mean, counts=counts, total_hidden=_ANSWERED in hidden
            )
        )
    return rows


@dataclass(frozen=True)
class Comparison:
    number: int
    text: str
    before_n: str
    before_mean: Decimal | None
    after_n: str
    after_mean: Decimal | None

    @property
    def change(self) -> Decimal | None:
        if self.before_mean is None or self.after_mean is None:
            return None
        return self.after_mean - self.before_mean


def survey_comparison(programme: Programme) -> list[Comparison]:
    """Scale questions with the same number in the surveys before and after the series."""
    surveys = {survey.phase: survey for survey in surveys_of(programme)}
    before, after = surveys.get(SurveyPhase.PRE), surveys.get(SurveyPhase.POST)
    if before is None or after is None:
        return []
    pre = {row.question.number: row for row in survey_summary(before)}
    rows = []
    for post_row in survey_summary(after):
        pre_row = pre.get(post_row.question.number)
        if post_row.question.kind != QuestionKind.LIKERT or pre_row is None:
            continue
        if pre_row.question.kind != QuestionKind.LIKERT:
            continue
        rows.append(
            Comparison(
                number=post_row.question.number,
                text=post_row.question.text,
                before_n=pre_row.answered_shown,
                before_mean=pre_row.mean,
                after_n=post_row.answered_shown,
                after_mean=post_row.mean,
            )
        )
    return rows


@dataclass(frozen=True)
class QuizResult:
    quiz: Quiz
    learners: str
    passed: str


def quiz_results(programme: Programme) -> list[QuizResult]:
    rows = []
    for quiz in quizzes_of(programme):
        done = Attempt.objects.filter(quiz=quiz, submitted_at__isnull=False)
        learners = done.values("learner").distinct().count()
        passed = done.filter(passed=True).values("learner").distinct().count()
        rows.append(QuizResult(quiz, suppressed(learners), suppressed(passed)))
    return rows


# --- verification ------------------------------------------------------------------------------


class Verdict(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    # The check character disagrees: a typing slip, found before any lookup.
    MISTYPED = "mistyped"


@dataclass(frozen=True)
class Verification:
    code: str
    verdict: Verdict
    certificate: Certificate | None = None


def verify(typed: str) -> Verification:
    from .services import certificate_code

    code = codes.normalise(typed)
    if not codes.well_formed(code):
        return Verification(code, Verdict.MISTYPED)
    certificate = (
        Certificate.objects.filter(code=code).select_related("learner", "programme").first()
    )
    # A row changed after issue (hours, date, person) no longer matches its code.
    if certificate is None or not hmac.compare_digest(certificate_code(certificate), code):
        return Verification(code, Verdict.UNKNOWN)
    if certificate.revoked_at is not None:
        return Verification(code, Verdict.REVOKED, certificate)
    return Verification(code, Verdict.VALID, certificate)


# --- coverage ----------------------------------------------------------------------------------


@dataclass
class CoverageRow:
    """A facility's (or a region's) coverage. The `*_hidden` flags are set by
    `coverage_by_region`, which sees the whole line; a count that is small is hidden whatever
    they say."""

    name: str
    enrolled: int = 0
    attending: int = 0
    hours: Decimal = Decimal("0")
    enrolled_hidden: bool = False
    attending_hidden: bool = False

    @property
    def enrolled_shown(self) -> str:
        return shown(self.enrolled, hidden=self.enrolled_hidden or is_small(self.enrolled))

    @property
    def attending_shown(self) -> str:
        return shown(self.attending, hidden=self.attending_hidden or is_small(self.attending))

    @property
    def hours_shown(self) -> str:
        # Hours of fewer than five learners could be one person's: hidden with the count. And a
        # hidden count's hours go too, or the region's hours minus the rest would be theirs.
        if self.attending_hidden or is_small(self.attending):
            return SUPPRESSED
        return f"{self.hours:.1f}"


@dataclass
class RegionCoverage:
    region: str
    total: CoverageRow
    facilities: list[CoverageRow]


def _credited_hours(rows: Iterable[Attendance], passed: set[tuple[int, int]]) -> dict[int, Decimal]:
    """Hours per learner id: attended enough of the session and passed its quizzes."""
    share = float(settings.FARCARE_TRAINING_ATTENDANCE_SHARE)
    session_quizzes: dict[int, set[int]] = defaultdict(set)
    for quiz_id, session_id in Quiz.objects.filter(session__isnull=False).values_list(
        "pk", "session_id"
    ):
        session_quizzes[session_id].add(quiz_id)
    hours: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        session = row.session
        if session.status == SessionStatus.CANCELLED:
            continue
        if row.minutes < math.ceil(session.duration_minutes * share):
            continue
        if all((row.learner_id, quiz) in passed for quiz in session_quizzes[session.pk]):
            hours[row.learner_id] += session.credit_hours
    return hours


def coverage_by_region() -> list[RegionCoverage]:
    """Per facility with learners (clinicians, consultants, coordinators): how many are
    enrolled in a programme, how many attended at least one session, and the credit hours
    they earned; grouped by region with the region's totals. No names."""
    learners = User.objects.filter(role__in=LEARNER_ROLES, facility__isnull=False, is_active=True)
    facility_of = dict(learners.values_list("pk", "facility_id"))
    enrolled = set(
        Enrolment.objects.filter(withdrawn_at__isnull=True, learner_id__in=facility_of).values_list(
            "learner_id", flat=True
        )
    )
    attendance = list(
        Attendance.objects.filter(learner_id__in=facility_of, minutes__gt=0).select_related(
            "session"
        )
    )
    attending = {row.learner_id for row in attendance}
    passed = set(Attempt.objects.filter(passed=True).values_list("learner_id", "quiz_id"))
    hours = _credited_hours(attendance, passed)
    rows: dict[int, CoverageRow] = {}
    facilities = Facility.objects.filter(pk__in=set(facility_of.values())).order_by("name_en")
    by_pk = {facility.pk: facility for facility in facilities}
    for facility in facilities:
        rows[facility.pk] = CoverageRow(str(facility))
    for learner_id, facility_id in facility_of.items():
        row = rows[facility_id]
        row.enrolled += learner_id in enrolled
        row.attending += learner_id in attending
        row.hours += hours.get(learner_id, Decimal("0"))
    regions: dict[str, RegionCoverage] = {}
    for facility_id, row in rows.items():
        name = by_pk[facility_id].region
        region = regions.setdefault(name, RegionCoverage(name, CoverageRow(name), []))
        region.facilities.append(row)
        region.total.enrolled += row.enrolled
        region.total.attending += row.attending
        region.total.hours += row.hours
    for region in regions.values():
        _suppress_region(region)
    return [regions[name] for name in sorted(regions)]


def _suppress_region(region: RegionCoverage) -> None:
    """Enrolled and attending are each a line: the region's facilities beside the region's
    total, which the page shows. A lone small facility takes the next smallest with it (the
    region's 8 enrolled minus the hub's 6 would be the post's 2). Credit hours follow the
    attending count, so they are hidden in the same cells."""
    # Keyed by name (then place, for two facilities of one name): equal complements go to the
    # facility first in the alphabet, the order the page lists them in.
    keys = [(row.name, index) for index, row in enumerate(region.facilities)]
    total = ("", -1)
    line = Line(total, tuple(keys))

    def hidden_of(count: Callable[[CoverageRow], int]) -> set[tuple[str, int]]:
        counts = {key: count(row) for key, row in zip(keys, region.facilities, strict=True)}
        return suppress_lines(counts | {total: count(region.total)}, [line])

    enrolled = hidden_of(lambda row: row.enrolled)
    attending = hidden_of(lambda row: row.attending)
    for key, row in zip(keys, region.facilities, strict=True):
        row.enrolled_hidden, row.attending_hidden = key in enrolled, key in attending
    region.total.enrolled_hidden = total in enrolled
    region.total.attending_hidden = total in attending
