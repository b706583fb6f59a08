"""Moved to `fakes` (the one module of shared test fixtures); kept so test modules written
against the old name keep importing. New tests import from `fakes`."""

from fakes import (
    ACCESS_LIFE, DAY, REFRESH_LIFE, T0, Clock, form, ok, run_child, token_body,
)

__all__ = ['ACCESS_LIFE', 'DAY', 'REFRESH_LIFE', 'T0', 'Clock', 'form', 'ok', 'run_child', 'token_body']
