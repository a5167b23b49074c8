"""Widgets that return plain values, the Plotly charts, and small display helpers."""
