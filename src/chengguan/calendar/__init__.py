"""Working calendar per bureau: working days, working periods, holidays and make-up days as data."""
