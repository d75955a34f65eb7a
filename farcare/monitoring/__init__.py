"""Remote monitoring of people with chronic illness between visits (issue 17), begun: pure logic.

What is here has no models and no ORM: the measures and their plausible ranges (measures), reading
a plain SMS typed on a basic phone and answering it (sms), and the rules that turn readings into
alerts (rules). Models, services, pages, FHIR and the SMS gateway's webhook come later and call
these functions, so the clinical decisions are tested without a database.
"""
