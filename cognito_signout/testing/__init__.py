"""Helpers for testing code that uses cognito-signout, without the network."""
