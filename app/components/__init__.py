"""What several pages share: the sidebar (controls) and the URL state, Plotly charts, the plan table,
projector-sized tables and small display helpers. A section that one page alone draws lives next to
that page (app/views/<page>_sections/)."""
