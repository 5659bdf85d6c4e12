"""Hypothesis strategies shared by more than one test file."""

from hypothesis import strategies as st

#: A probability, a confidence or a quantile: a float in [0, 1].
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
