"""The dashboard's views: one page file per view (run by st.navigation in app.py), the shared sidebar,
and the drawing pad the "Inside a digit" view draws on (`canvas`)."""
