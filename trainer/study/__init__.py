"""Experiment lists (the original study's runs) and comparison reports."""
