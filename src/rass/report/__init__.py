"""The HTML/Markdown report, built only from a run's saved artifacts."""
