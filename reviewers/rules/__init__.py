"""The rules, one module each, grouped by class: leaks/ (GR1xx), context/ (GR2xx),
unsafe/ (GR3xx), init/ (GR4xx)."""
