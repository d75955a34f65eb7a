"""Appointments for real-time and consilium consultations: consultants publish slots in their own
zone, the requester books one shown in theirs, reminders go out before it starts, rescheduling and
no-shows are kept."""
