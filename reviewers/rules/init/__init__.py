"""GR4xx: blocking work in init()."""
