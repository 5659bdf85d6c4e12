"""Streamlit-only helpers shared by the pages (the library, ``curation``, never imports this)."""
