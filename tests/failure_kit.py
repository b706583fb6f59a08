"""Moved to `fakes` (the one module of shared test fixtures); kept so test modules written
against the old name keep importing. New tests import from `fakes`."""

from fakes import (
    ACCESS, BASIC, CODE, NEW_REFRESH, REDIRECT_URI, REFRESH, SECRETS, Sleeps, exception_texts, leaks, make_api,
    no_sleep_policy, ok, refresh, token_json,
)

__all__ = ['ACCESS', 'BASIC', 'CODE', 'NEW_REFRESH', 'REDIRECT_URI', 'REFRESH', 'SECRETS', 'Sleeps', 'exception_texts', 'leaks', 'make_api', 'no_sleep_policy', 'ok', 'refresh', 'token_json']
