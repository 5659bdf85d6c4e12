"""Helpers for the app tests and the real-browser test (seeded stores, a Streamlit server)."""
