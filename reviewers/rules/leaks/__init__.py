"""GR1xx: goroutine leaks."""
