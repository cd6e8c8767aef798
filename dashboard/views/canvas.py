"""A drawing pad for digits: a 280 x 280 canvas in the browser that sends the drawing back to Python.

Built with `st.components.v2.component` (inline HTML, CSS and JS, no build step). The JS draws
thick white strokes on black with the mouse or a finger (pointer events) and, at the end of each
stroke, sends the canvas downsampled to RESOLUTION x RESOLUTION grey levels as the component's
state value "image" = {"size": n, "pixels": base64 of n*n bytes}; Clear sends None. `decode`
turns that value back into a NumPy image, ready for `data.preprocess.mnist_style`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import numpy as np
import streamlit as st

PAD_PX = 280  # on-screen side of the canvas
RESOLUTION = 112  # side of the grey image sent back (a 4x finer grid than MNIST's 28)
STROKE_PX = 22  # pen width on the 280 px pad: about 2.2 MNIST pixels, like MNIST's strokes

HTML = f"""
<div class="pad">
  <canvas width="{PAD_PX}" height="{PAD_PX}" role="img" aria-label="drawing pad"></canvas>
  <div class="row">
    <button type="button" class="clear">Clear</button>
    <span class="hint">Draw one digit, large, in the middle.</span>
  </div>
</div>
"""

CSS = f"""
.pad {{ display: flex; flex-direction: column; gap: 0.4rem; width: {PAD_PX}px; }}
canvas {{ width: {PAD_PX}px; height: {PAD_PX}px; background: #000; border-radius: 6px;
          cursor: crosshair; touch-action: none; }}
.row {{ display: flex; align-items: center; gap: 0.6rem; font-family: var(--st-font); }}
.hint {{ color: var(--st-text-color); opacity: 0.65; font-size: 0.85rem; }}
button {{ font: inherit; padding: 0.25rem 0.9rem; border-radius: var(--st-button-radius, 0.5rem);
          border: 1px solid var(--st-border-color, #d0d4dc); background: var(--st-background-color, #fff);
          color: var(--st-text-color); cursor: pointer; }}
button:hover {{ border-color: var(--st-primary-color); color: var(--st-primary-color); }}
"""

# Runs in the browser each time the component is (re)rendered; it returns its cleanup.
JS = """
export default function ({ parentElement, data, setStateValue }) {
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button.clear");
  const ctx = canvas.getContext("2d");
  const size = data.size, stroke = data.stroke;
  const wipe = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  if (!canvas.dataset.ready) { wipe(); canvas.dataset.ready = "1"; }  // keep a drawing across reruns

  let last = null;  // the previous point of the stroke in progress, or null
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
  };
  const line = (from, to) => {
    ctx.strokeStyle = "#fff"; ctx.lineWidth = stroke; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(from[0], from[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
  };
  const send = () => {  // the canvas, area-averaged down to size x size, one grey byte per pixel
    const small = document.createElement("canvas");
    small.width = small.height = size;
    const sctx = small.getContext("2d");
    sctx.imageSmoothingEnabled = true; sctx.imageSmoothingQuality = "high";
    sctx.drawImage(canvas, 0, 0, size, size);
    const rgba = sctx.getImageData(0, 0, size, size).data;
    let bytes = "";
    for (let i = 0; i < rgba.length; i += 4) bytes += String.fromCharCode(rgba[i]);
    setStateValue("image", { size: size, pixels: btoa(bytes) });
  };
  const down = (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    line(last, last);  // a dot for a click without movement
  };
  const move = (e) => {
    if (last === null) return;
    const point = at(e);
    line(last, point);
    last = point;
  };
  const up = () => {
    if (last === null) return;
    last = null;
    send();
  };
  const reset = () => { wipe(); last = null; setStateValue("image", null); };

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  clear.addEventListener("click", reset);
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
    clear.removeEventListener("click", reset);
  };
}
"""

_pad = st.components.v2.component("digit_lab_drawing_pad", html=HTML, css=CSS, js=JS)


def decode(value) -> np.ndarray | None:
    """The pad's state value as an (n, n) uint8 image, ink bright on black; None for no value or a blank pad.

    Raises: ValueError when the value is not {"size": n, "pixels": base64 of n*n bytes}.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping) or not {"size", "pixels"} <= set(value):
        raise ValueError(f"expected {{'size', 'pixels'}} from the drawing pad, got {type(value).__name__}")
    n = value["size"]
    if not isinstance(n, int) or not 1 <= n <= 4 * PAD_PX:
        raise ValueError(f"drawing size must be 1..{4 * PAD_PX}, got {n!r}")
    try:
        raw = base64.b64decode(value["pixels"], validate=True)
    except (binascii.Error, TypeError) as error:
        raise ValueError(f"drawing pixels are not base64: {error}") from None
    if len(raw) != n * n:
        raise ValueError(f"drawing has {len(raw)} pixels, expected {n} x {n} = {n * n}")
    image = np.frombuffer(raw, dtype=np.uint8).reshape(n, n)
    return image if image.any() else None


def encode(image: np.ndarray) -> dict:
    """What the JS sends for a square uint8 image (the inverse of `decode`, for tests and demos)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return {"size": int(image.shape[0]), "pixels": base64.b64encode(image.tobytes()).decode("ascii")}


def drawing_pad(key: str) -> np.ndarray | None:
    """Show the pad; the latest drawing as a (RESOLUTION, RESOLUTION) uint8 image, or None before any stroke.

    Raises: ValueError for a malformed value (see `decode`).
    """
    result = _pad(key=key, data={"size": RESOLUTION, "stroke": STROKE_PX}, default={"image": None},
                  on_image_change=_redraw, width=PAD_PX + 4)
    return decode(result.get("image"))


def _redraw() -> None:
    """Callback of a new drawing: nothing to do, the rerun it causes reads the new value."""
