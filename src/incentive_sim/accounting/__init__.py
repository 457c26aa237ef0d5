"""Accounting: from simulated spells to euros per payer, municipality, month and person."""
