"""reminder: spaced-review reminders for study notes, pushed to the phone through ntfy."""

__version__ = "0.1.0"
