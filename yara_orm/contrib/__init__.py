"""Integrations with web frameworks and libraries; each needs its own optional extra."""
