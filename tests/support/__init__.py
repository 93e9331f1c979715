"""Test support: real servers on loopback, helpers shared across tiers."""
