"""Credit hours: a learner earns a session's hours when present for at least
FARCARE_TRAINING_ATTENDANCE_SHARE of its duration and, if the session has a quiz, after passing
it. A programme is complete (a certificate may be issued) when every session that was not
cancelled is credited and every quiz of the whole programme is passed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from farcare.accounts.models import User
from farcare.training.models import Programme, Session, SessionStatus
from farcare.training.selectors import attended_minutes, sessions_of

from .models import Attempt, Certificate, Quiz


def minutes_needed(session: Session) -> int:
    share = float(settings.FARCARE_TRAINING_ATTENDANCE_SHARE)
    return math.ceil(session.duration_minutes * share)


def passed_quiz_ids(learner: User) -> set[int]:
    return set(
        Attempt.objects.filter(learner=learner, passed=True).values_list("quiz_id", flat=True)
    )


@dataclass(frozen=True)
class SessionCredit:
    session: Session
    minutes: int
    minutes_needed: int
    quizzes: tuple[Quiz, ...]
    quizzes_passed: bool

    @property
    def attended_enough(self) -> bool:
        return self.minutes >= self.minutes_needed

    @property
    def credited(self) -> bool:
        return self.attended_enough and self.quizzes_passed

    @property
    def hours(self) -> Decimal:
        return self.session.credit_hours if self.credited else Decimal("0")


@dataclass(frozen=True)
class ProgrammeCredits:
    programme: Programme
    sessions: tuple[SessionCredit, ...]
    programme_quizzes: tuple[Quiz, ...]
    programme_quizzes_passed: bool
    certificate: Certificate | None

    @property
    def hours(self) -> Decimal:
        return sum((row.hours for row in self.sessions), Decimal("0"))

    @property
    def eligible(self) -> bool:
        """Every session not cancelled is credited (and there is one), every quiz passed."""
        counted = [row for row in self.sessions if row.session.status != SessionStatus.CANCELLED]
        return (
            bool(counted) and all(row.credited for row in counted) and self.programme_quizzes_passed
        )


def programme_credits(programme: Programme, learner: User) -> ProgrammeCredits:
    passed = passed_quiz_ids(learner)
    quizzes = list(Quiz.objects.filter(programme=programme))
    rows = []
    for session in sessions_of(programme):
        own = tuple(quiz for quiz in quizzes if quiz.session_id == session.pk)
        rows.append(
            SessionCredit(
                session=session,
                minutes=attended_minutes(session, learner),
                minutes_needed=minutes_needed(session),
                quizzes=own,
                quizzes_passed=all(quiz.pk in passed for quiz in own),
            )
        )
    whole = tuple(quiz for quiz in quizzes if quiz.session_id is None)
    return ProgrammeCredits(
        programme=programme,
        sessions=tuple(rows),
        programme_quizzes=whole,
        programme_quizzes_passed=all(quiz.pk in passed for quiz in whole),
        certificate=Certificate.objects.filter(programme=programme, learner=learner).first(),
    )
