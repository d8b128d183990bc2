"""Tests of roadworks/domain/: pure values and rules, no app and no database."""
