"""Benchmarks: one command each, printing a table (see README, "Benchmarks")."""
