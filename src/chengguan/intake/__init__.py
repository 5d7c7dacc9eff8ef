"""Intake: one door for every channel. Reports become located, classified, de-duplicated cases."""
