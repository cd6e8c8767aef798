"""The dashboard's views: the sidebar, and one module per tab with a `render()` function."""
