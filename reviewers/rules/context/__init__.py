"""GR2xx: context cancellation that does not propagate."""
