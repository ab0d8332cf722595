"""Helpers for the test suite: real deployment repositories in temp dirs."""
