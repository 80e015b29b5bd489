"""Keyed hashes: a configured value's hash (computed once per isolate) is the hash of that value."""

from types import SimpleNamespace

import pytest

import hashing
from shared.errors import AppError

SECRET = "s" * 40


def test_a_configured_values_hash_is_its_keyed_hash_under_the_current_secret():
    env = SimpleNamespace(API_KEY_SECRET=SECRET)
    value = "sk_test_" + "b" * 40
    assert hashing.configured_hash(env, value) == hashing.keyed_hash(env, value)
    assert hashing.configured_hash(env, value) == hashing.configured_hash(env, value)
    other = SimpleNamespace(API_KEY_SECRET="t" * 40)  # another secret: another hash, not the remembered one
    assert hashing.configured_hash(other, value) == hashing.keyed_hash(other, value) != hashing.keyed_hash(env, value)


def test_matches_configured_answers_as_matches():
    env = SimpleNamespace(API_KEY_SECRET=SECRET)
    value = "sk_test_" + "c" * 40
    stored = hashing.keyed_hash(env, value)
    for candidate in (stored, hashing.keyed_hash(env, value + "x"), "", None):
        assert hashing.matches_configured(env, value, candidate) is hashing.matches(env, value, candidate)


def test_a_configured_hash_needs_the_secret():
    with pytest.raises(AppError) as info:
        hashing.configured_hash(SimpleNamespace(API_KEY_SECRET="short"), "sk_test_" + "d" * 40)
    assert info.value.code == "AUTH_NOT_CONFIGURED"
