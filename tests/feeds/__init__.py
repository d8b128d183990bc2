"""Tests of roadworks/feeds/: one partner format per module."""
