"""Security headers on every answer: API JSON, photos, the web client and the API docs page.

- `Content-Security-Policy`: scripts, styles, fonts, fetches, workers and the manifest from this
  origin only; images from this origin, `data:` (icons inlined in the vendored CSS) and `blob:`
  (photos the client fetched with its token); no plugins, no `<base>`, forms post here only, and
  no page may frame this one (`frame-ancestors 'none'`). Extra image origins (a map tile server)
  come from CSP_EXTRA_IMG_SRC. STYLE_SRC says which inline styles are allowed, and why.
- `X-Frame-Options: DENY` (frame-ancestors for older browsers), `X-Content-Type-Options: nosniff`
  (a photo is never run as a script or page), `Referrer-Policy: same-origin`.
- `Strict-Transport-Security` when the request came over HTTPS (behind a proxy: PROXY_FIX_HOPS).
- `Cache-Control: no-store` on the token answer: a fresh bearer token is kept in no cache.
"""
from flask import request

# Styles. Measured in Chromium (tests/test_security_headers.py): Swagger UI, Leaflet and uPlot
# set element styles through the CSSOM (`element.style.x = ...`, React's style props), which CSP
# never blocks, and load no inline `<style>`; the one inline style is a `style="..."` attribute,
# the colour swatches of the rates map legend (static/client/views/rates/map.js, set with
# setAttribute by ui.js h()). So 'unsafe-inline' is allowed for style attributes only
# (`style-src-attr`, CSP level 3: Chromium 75+, Firefox 108+, Safari 15.4+); `<style>` elements and
# style sheets stay limited to this origin, and older browsers fall back to `style-src 'self'`
# (the swatches lose their colour there). Once the legend sets its colours through the CSSOM,
# drop the `style-src-attr` entry. Scripts are never inline.
STYLE_SRC = ("style-src 'self'", "style-src-elem 'self'", "style-src-attr 'unsafe-inline'")

TOKEN_ENDPOINTS = ("/api/v1/auth/token",)


def content_security_policy(extra_img_src=""):
    img_src = " ".join(["img-src 'self' data: blob:", *extra_img_src.split()])
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        *STYLE_SRC,
        img_src,
        "font-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def register_security_headers(app):
    """after_request: the headers above on every answer, errors included."""
    policy = content_security_policy(app.config.get("CSP_EXTRA_IMG_SRC", ""))

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path in TOKEN_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response

    return security_headers
