"""Helpers shared by the test suites: database stacks and app harness."""
