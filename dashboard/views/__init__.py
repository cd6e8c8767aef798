"""The dashboard's views: one page file per view (run by st.navigation in app.py), and the shared sidebar."""
