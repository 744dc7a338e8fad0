"""What the web process and the review worker share, beneath both: settings read from the
environment, the head claims and parked reviews kept in Redis, the metrics both count, log
redaction and the App manifest's conversion. Neither process imports the other; both import
this package and `reviewers.github_core` (the GitHub core, without I/O)."""
