"""Settings in the URL: a query string -> checked settings plus notices, and settings -> a link.

The pure part (no Streamlit) comes first; the session's link (checked once when opened, kept
current on every full run, shown as "Copy link") is the last section. The sidebar's widgets are bound to the URL (`bind="query-params"`) and
Streamlit drops a bad bound value silently (it clears the parameter and the widget keeps its
default); `parse_query` applies the same rules so the app can *say* what it ignored. α is not a
bound widget (its owner is dashboard/runs/alpha.py, shown by the versioned α widgets), so its
`lr` parameter is checked here alone. The rules mirror Streamlit 1.67: integers as Python's
`int()` reads them, booleans "true"/"false" in any case, choices exactly as the widget shows them
(the data source by its label, e.g. `data_source=MNIST`), the last value of a repeated parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from core.activations import ACTIVATIONS
from core.config import MAX_HIDDEN
import streamlit as st

from dashboard import settings
from dashboard.runs import alpha

# A link may carry any α the exact-α entry next to the Train controls can hold, so the link replays it.
LR_LOW, LR_HIGH = settings.LR_EXACT_MIN, settings.LR_EXACT_MAX
SHOWN_CHARS = 40  # a value longer than this is cut in notices
SHOWN_UNKNOWN = 5  # unknown parameter names listed in a notice at most
# Parameters other views read from the URL; not reported as unknown. Add new bound keys here.
OTHER_KEYS: frozenset[str] = frozenset({"run"})  # the run id (dashboard/runs/session.py)


@dataclass(frozen=True)
class Param:
    """One URL parameter: what it holds ("int", "float", "bool" or "choice") and its limits."""

    name: str  # what a notice calls it
    kind: str
    low: float = 0
    high: float = 0
    choices: tuple[tuple[str, str], ...] = ()  # (text in the URL, setting value)

    def parse(self, text: str):
        """The setting's value for `text`. Raises: ValueError saying what is allowed."""
        if self.kind == "choice":
            for shown, value in self.choices:
                if text == shown:
                    return value
            raise ValueError(f"must be one of {', '.join(shown for shown, _ in self.choices)}")
        if self.kind == "bool":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise ValueError("must be true or false")
        if self.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"must be a whole number {self.low:,}..{self.high:,}") from None
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"must be a number {self.low:g}..{self.high:g}") from None
            if not math.isfinite(value):
                raise ValueError(f"must be a finite number {self.low:g}..{self.high:g}")
        if not self.low <= value <= self.high:
            shown = f"{self.low:,}..{self.high:,}" if self.kind == "int" else f"{self.low:g}..{self.high:g}"
            raise ValueError(f"must be {shown}")
        return value

    def format(self, value) -> str:
        """The URL text for a setting value (the inverse of `parse`)."""
        if self.kind == "choice":
            return next(shown for shown, v in self.choices if v == value)
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "float":
            return repr(float(value))  # shortest text that reads back as the same float
        return str(int(value))


def _choices(options) -> tuple[tuple[str, str], ...]:
    return tuple((option, option) for option in options)


# Ranges as the sidebar's widgets have them (tests/dashboard/test_urlstate.py checks they agree).
PARAMS: dict[str, Param] = {
    "data_source": Param("data", "choice",
                         choices=tuple((label, key) for key, label in settings.SOURCE_LABELS.items())),
    "mode": Param("mode", "choice", choices=_choices(settings.MODES)),
    "hidden": Param("hidden units", "int", 1, MAX_HIDDEN),
    "notebook_m": Param("the notebook's m", "int", 1, 10_000_000),
    "full_batch": Param("full batch", "bool"),
    "batch_size": Param("batch size", "int", 1, 100_000),
    "optimizer": Param("optimizer", "choice", choices=_choices(settings.OPTIMIZERS)),
    "activation": Param("activation", "choice", choices=_choices(ACTIVATIONS)),
    "lr": Param("α (learning rate)", "float", LR_LOW, LR_HIGH),
    "seed": Param("seed", "int", 0, 2**31 - 1),
    "dev_size": Param("dev rows", "int", 1, 100_000),
    "train_size": Param("train rows", "int", 0, 10_000_000),
    "stop_at": Param("stop at iteration", "int", 0, settings.MAX_STOP),
}
DEFAULTS: dict = {"data_source": "sample", **settings.DEFAULTS}


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` made safe to show inside inline code: one line, no backticks, cut at `limit` characters."""
    clean = "".join(c if c.isprintable() else "�" for c in str(text)).replace("`", "'")
    return clean if len(clean) <= limit else f"{clean[:limit]}… ({len(clean):,} characters)"


def parse_query(query: Mapping[str, str | list[str]]) -> tuple[dict, list[str]]:
    """Settings from URL parameters, and one notice per value ignored (it keeps its default).

    Returns (values for every key of DEFAULTS, notices). Never raises for any input.
    """
    values, notices, unknown = dict(DEFAULTS), [], []
    for key, raw in query.items():
        text = (raw[-1] if raw else "") if isinstance(raw, list) else str(raw)
        param = PARAMS.get(key)
        if param is None:
            if key not in OTHER_KEYS:
                unknown.append(key)
            continue
        try:
            values[key] = param.parse(text)
        except ValueError as error:
            notices.append(f"Ignored `{key}={shown(text)}` from the link: {param.name} {error}; "
                           f"using {param.format(DEFAULTS[key])}.")
    if unknown:
        names = ", ".join(f"`{shown(k, 20)}`" for k in unknown[:SHOWN_UNKNOWN])
        more = f" and {len(unknown) - SHOWN_UNKNOWN} more" if len(unknown) > SHOWN_UNKNOWN else ""
        notices.append(f"Ignored unknown link parameter{'s' if len(unknown) > 1 else ''} {names}{more}.")
    return values, notices


def relevant(values: Mapping) -> dict:
    """The settings with those that do not apply reset to their defaults.

    The notebook's m only matters in notebook mode, the batch size only without full batch (the
    sidebar hides those widgets, and Streamlit drops their URL parameters, otherwise).
    """
    out = {**DEFAULTS, **{k: values[k] for k in DEFAULTS if k in values}}
    if out["mode"] != "notebook":
        out["notebook_m"] = DEFAULTS["notebook_m"]
    if out["full_batch"]:
        out["batch_size"] = DEFAULTS["batch_size"]
    return out


def to_query(values: Mapping) -> dict[str, str]:
    """URL parameters for the settings that differ from the defaults (as bound widgets write them)."""
    out = relevant(values)
    return {key: param.format(out[key]) for key, param in PARAMS.items() if out[key] != DEFAULTS[key]}


def link(values: Mapping, base: str | None = None) -> str:
    """The link that reopens these settings: `base` (the app's address, if known) plus the query."""
    query = urlencode(to_query(values))
    return (base or "") + (f"?{query}" if query else "")


def app_url(page_url: str | None, base_url_path: str = "") -> str | None:
    """The app's own address, where its default view (Train) opens, from any of its pages' full URLs: the
    page's scheme and host plus Streamlit's `server.baseUrlPath` ("http://host/runs" -> "http://host/"; under
    the base path "lab", "http://host/lab/runs" -> "http://host/lab/"). None without a page URL."""
    if not page_url:
        return None
    parts = urlsplit(page_url)
    base = base_url_path.strip("/")
    return f"{parts.scheme}://{parts.netloc}/" + (f"{base}/" if base else "")


# ----- the session's link (Streamlit) -------------------------------------------------------------
CHECKED_KEY, NOTICES_KEY = "link_checked", "link_notices"


def check_link() -> float | None:
    """Check the URL's settings once per session; returns the link's α (on that first run), else None.

    Called by app.py before the sidebar: on a session's first run the query string is still as it
    was opened (bound widgets drop bad values silently while they are drawn). What was ignored is
    kept for `show_link_notices`.
    """
    if st.session_state.get(CHECKED_KEY):
        return None
    st.session_state[CHECKED_KEY] = True
    _, st.session_state[NOTICES_KEY] = parse_query(st.query_params.to_dict())
    text = st.query_params.get("lr")
    if text is None:
        return None
    try:  # α is not a bound widget: its owner takes it from here
        return PARAMS["lr"].parse(text)
    except ValueError:
        del st.query_params["lr"]
        return None


def show_link_notices() -> None:
    """The link's ignored values, with a button that dismisses them (an ✕: a word did not fit its column)."""
    notices = st.session_state.get(NOTICES_KEY)
    if notices:
        notice_col, dismiss_col = st.columns([12, 1], vertical_alignment="center")
        notice_col.warning("**This link had settings that cannot be used; the defaults stand in.**\n\n"
                           + "\n".join(f"- {n}" for n in notices), icon=":material/link_off:")
        dismiss_col.button(":material/close:", key="link_dismiss", help="Dismiss this notice",
                           on_click=lambda: st.session_state.update({NOTICES_KEY: []}))


def sync_link() -> None:
    """Put the session's α in the URL's `lr` (removed at the default), so the address bar is a link too."""
    lr = alpha.get()
    wanted = None if lr == settings.DEFAULTS["lr"] else PARAMS["lr"].format(lr)
    if st.query_params.get("lr") != wanted:
        if wanted is None:
            del st.query_params["lr"]
        else:
            st.query_params["lr"] = wanted


def current_setup() -> dict:
    """The settings a link carries: data source, every sidebar setting and α."""
    return {**settings.current_values(), "data_source": st.session_state.get("data_source", "sample")}


def share() -> None:
    """"Copy link to this setup": the link in a code block, which has a copy button."""
    values = current_setup()
    note = ("**Copy link to this setup** (the box's copy button): it opens with these settings, this α and "
            "this stop-at; press Start to replay the run (same seed, weights and batches).")
    if values["data_source"] == "upload":
        note += " An uploaded file is not in the link: whoever opens it uploads their own."
    st.caption(note + " α changed in the Train view since the last click here? **Refresh** updates the link.")
    base = app_url(st.context.url, st.get_option("server.baseUrlPath") or "")  # the Train view, not this page
    st.code(link(values, base), language=None, wrap_lines=True)
