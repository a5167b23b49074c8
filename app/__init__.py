"""The EfficientNet Scaling Lab, a Streamlit app on top of the `effnet` package.

Layout: `main.py` sets up the pages; `views/` holds one module per page, each with one `render()`;
`components/` holds widgets that return plain values and the Plotly charts; `services/` owns every
cache and lock. No model logic lives here: everything the app shows comes from `effnet`.
"""
