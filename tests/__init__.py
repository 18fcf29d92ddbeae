"""Tests for the Usage Statistics integration."""
