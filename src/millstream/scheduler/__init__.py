"""The scheduler: creates runs, decides what is ready, dispatches it, applies outcomes."""
