"""Surveys before and after a series, short tests (quizzes) and their attempts, and the
certificates issued when a programme is completed.

The training app owns programmes, sessions and attendance; this app only points at them."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class SurveyPhase(models.TextChoices):
    PRE = "pre", _("before the series")
    POST = "post", _("after the series")


class QuestionKind(models.TextChoices):
    LIKERT = "likert", _("scale 1–5")
    CHOICE = "choice", _("one choice")
    TEXT = "text", _("free text")


class Survey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    programme = models.ForeignKey(
        "training.Programme", on_delete=models.CASCADE, related_name="surveys"
    )
    phase = models.CharField(max_length=4, choices=SurveyPhase.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["programme", "phase"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "phase"], name="one_survey_per_phase")
        ]

    def __str__(self) -> str:
        return f"{self.programme} ({self.phase})"


class SurveyQuestion(models.Model):
    """Question N of the survey after the series is compared with question N before it, when
    both are on the 1–5 scale."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=QuestionKind.choices)
    text = models.CharField(_("question"), max_length=500)
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["survey", "number"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="one_survey_question_number")
        ]

    def __str__(self) -> str:
        return self.text


class SurveyResponse(models.Model):
    """That a learner answered (once). The answers hang off it; pages for the trainer show
    them only in aggregate."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "learner"], name="one_response_per_learner")
        ]

    def __str__(self) -> str:
        return f"{self.survey} answered"


class SurveyAnswer(models.Model):
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(SurveyQuestion, on_delete=models.CASCADE, related_name="answers")
    scale = models.PositiveSmallIntegerField(
        null=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    choice = models.PositiveSmallIntegerField(null=True)
    text = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.question_id}: {self.scale or self.choice or self.text[:20]}"


class Quiz(models.Model):
    """A short test of a session (or of the whole programme when `session` is empty)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    programme = models.ForeignKey(
        "training.Programme", on_delete=models.CASCADE, related_name="quizzes"
    )
    session = models.ForeignKey(
        "training.Session",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quizzes",
        verbose_name=_("session"),
    )
    title = models.CharField(_("title"), max_length=200)
    pass_percent = models.PositiveSmallIntegerField(
        _("pass mark, per cent"),
        default=70,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=3, validators=[MinValueValidator(1)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.title


class QuizQuestion(models.Model):
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    number = models.PositiveSmallIntegerField()
    text = models.CharField(_("question"), max_length=500)
    # Several answers are right: the learner ticks boxes (all of the right ones and no other).
    multiple = models.BooleanField(default=False)
    choices = models.JSONField(default=list)
    correct = models.JSONField(default=list)

    class Meta:
        ordering = ["quiz", "number"]
        constraints = [
            models.UniqueConstraint(fields=["quiz", "number"], name="one_quiz_question_number")
        ]

    def __str__(self) -> str:
        return self.text


class Attempt(models.Model):
    """One try at a quiz. Once submitted it is marked and never changes: the chosen answers,
    the score and the verdict stay as they were."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    # {question number: [chosen choice indices]}
    answers = models.JSONField(default=dict)
    score_percent = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, default=None
    )
    passed = models.BooleanField(default=False)

    class Meta:
        ordering = ["quiz", "learner", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["quiz", "learner", "number"], name="one_attempt_number_per_learner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quiz} #{self.number}"


class Certificate(models.Model):
    """Issued to a learner who completed a programme. The code is an HMAC of what the
    certificate says, so a code that was typed wrong or made up, or a row changed after issue,
    does not verify."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates"
    )
    programme = models.ForeignKey(
        "training.Programme", on_delete=models.PROTECT, related_name="certificates"
    )
    # As printed: the learner's name and the programme's title on the day of issue.
    learner_name = models.CharField(max_length=300)
    programme_title = models.CharField(max_length=200)
    hours = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("0"))
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    language = models.CharField(max_length=8, default="ru")
    code = models.CharField(max_length=11, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "programme"], name="one_certificate_per_programme"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner_name}: {self.programme_title}"
