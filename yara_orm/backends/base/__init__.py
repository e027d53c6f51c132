"""Tortoise's `tortoise.backends.base`."""
