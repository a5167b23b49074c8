"""One module per page, each with one `render()`; Streamlit runs the files as pages (st.Page)."""
