"""Sandbox world: a simulated panel ecosystem on loopback for the demo and the tests."""
