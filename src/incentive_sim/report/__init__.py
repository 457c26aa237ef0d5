"""Presentation: tables, plots and the HTML report."""
