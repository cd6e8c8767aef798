"""The runs a browser session makes, and their lifetime on the server.

`worker` trains each live run off the page (commands in, snapshots out) and `live` is how a page
watches one (a fragment redrawn from its snapshots); `state` is the session's
Train run (`Lab`), `sweeps` its learning-rate sweep and range test, `pair` the notebook-vs-corrected
pair, `alpha` the one owner of α; `history` keeps finished runs for comparison; `session` and `store`
keep all of it per person, on disk, across reloads, crashes and replicas.
"""
