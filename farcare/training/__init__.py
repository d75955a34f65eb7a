"""Tele-mentoring on the Project ECHO model: programmes of scheduled sessions (a short lecture,
then case presentations), their materials (with light versions for weak links, cached at
stations) and who attended."""
