# Korean with padded ISO dates: Django's own Korean short format writes 2026-12-6, which reads
# as a typo beside 2026-12-16 in a column of deadlines.
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
