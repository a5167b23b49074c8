"""One module per page, each with one `render()`; Streamlit runs the files as pages (st.Page). The
sections a page alone draws sit beside it: build_sections/, experiment_sections/, attention_sections/."""
