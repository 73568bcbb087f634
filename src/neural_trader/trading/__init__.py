"""The trading kernel and its runners."""
