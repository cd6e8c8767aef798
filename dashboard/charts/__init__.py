"""What the dashboard draws: Plotly figure builders (NumPy in, `go.Figure` out, no Streamlit) and the
live-chart component that updates a figure in place while a run trains.

`figures`: curves, weight maps, confusion and the mistakes gallery; `grad`: the backward pass;
`lab`: the LR lab's sweep and range test; `maths`: the "understand the math" views;
`livechart`: `live_chart(figure, key=...)`, one Plotly instance per chart, fed by `Plotly.react`.
"""
