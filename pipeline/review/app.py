"""The review web app (FastAPI, server-rendered pages, a little JavaScript for the keys).

One request, one SQLite connection; every change is a POST checked for origin and CSRF token, then redirected to a
GET (so a reload never repeats a decision). Nothing typed by a person reaches a page unescaped: Jinja2 autoescapes
every template.
"""

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pipeline.review import queue
from pipeline.review.db import connect, prepare_store, snapshot, stamp, utcnow
from pipeline.review.decisions import Conflict, decide, reopen_last
from pipeline.review.exporter import ExportScheduler
from pipeline.review.images import crop_file, page_view
from pipeline.review.keyed import InvalidValue, parse_keyed
from pipeline.review.scans import ScanLocator
from pipeline.review.security import (
    COOKIE,
    SECURITY_HEADERS,
    Session,
    check_bind,
    clean_reviewer,
    create_session,
    end_session,
    host_allowed,
    load_session,
    same_origin,
    set_flash,
    take_flash,
    token_matches,
)
from pipeline.review.view import REASON_TEXT, load_field
from pipeline.segment.pages import ScanError

HERE = Path(__file__).parent
STATIC = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}
MAX_FORM_BYTES = 16_384


@dataclass
class ReviewSettings:
    out_dir: Path
    host: str = "127.0.0.1"
    token: str | None = None
    lease_seconds: float = queue.LEASE_SECONDS
    export_delay: float = 1.0
    scans: list[Path] = field(default_factory=list)


class LoginNeeded(Exception):
    """No (valid) session: a page is redirected to the login form, anything else gets 401."""


@dataclass
class Context:
    db: sqlite3.Connection
    session: Session | None
    authenticated: bool  # the token was shown (or none is needed)
    now: datetime


def create_app(settings: ReviewSettings) -> FastAPI:
    """The app over ``settings.out_dir``; refuses a non-loopback host without a token."""
    check_bind(settings.host, settings.token)
    db_path = prepare_store(settings.out_dir)
    out_dir = settings.out_dir
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    templates.filters["percent"] = lambda v: "" if v is None else f"{100 * v:.0f}%"
    templates.globals["reasons"] = REASON_TEXT
    locator = ScanLocator(settings.scans)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.exports = ExportScheduler(out_dir, settings.export_delay)
        try:
            yield
        finally:
            app.state.exports.close()

    app = FastAPI(title="Review", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not host_allowed(settings.host, request.headers.get("host")):
            return Response("unexpected Host header", status_code=400, media_type="text/plain")
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginNeeded)
    async def to_login(request: Request, _exc: LoginNeeded):
        if request.method == "GET" and "text/html" in request.headers.get("accept", "text/html"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"detail": "log in first"}, status_code=401)

    def context(request: Request) -> Iterator[Context]:
        db = connect(db_path, threads=True)
        try:
            now = utcnow()
            bearer = request.headers.get("authorization", "")
            shown = bearer.startswith("Bearer ") and token_matches(settings.token, bearer[7:])
            session = load_session(db, request.cookies.get(COOKIE), now)
            authenticated = settings.token is None or shown or session is not None
            yield Context(db, session, authenticated, now)
        finally:
            db.close()

    Ctx = Annotated[Context, Depends(context)]

    def reviewer(ctx: Ctx) -> Context:
        if ctx.session is None:
            raise LoginNeeded
        return ctx

    Reviewer = Annotated[Context, Depends(reviewer)]

    def viewer(ctx: Ctx) -> Context:
        """Images: a reviewer's session, or the token itself in an Authorization header."""
        if ctx.session is None and not (settings.token is not None and ctx.authenticated):
            raise LoginNeeded
        return ctx

    Viewer = Annotated[Context, Depends(viewer)]

    async def form(request: Request) -> dict[str, str]:
        """The posted form (URL-encoded, small), after the same-origin check."""
        if not same_origin(request.headers.get("origin"), request.headers.get("referer"), request.headers.get("host")):
            raise HTTPException(403, "cross-site request refused")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "malformed form") from None
        return {k: v[0] for k, v in parsed.items()}

    Posted = Annotated[dict, Depends(form)]

    def checked(request: Request, ctx: Context, posted: dict[str, str]) -> Session:
        """The session behind a state change, after its CSRF token was checked."""
        if ctx.session is None:
            raise LoginNeeded
        given = posted.get("csrf") or request.headers.get("x-csrf-token")
        if not token_matches(ctx.session.csrf, given):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return ctx.session

    def render(template: str, status: int = 200, **values) -> HTMLResponse:
        return HTMLResponse(templates.get_template(template).render(**values), status_code=status)

    def filters_of(values) -> queue.Filters:
        return queue.Filters.parse(values.get("kind"), values.get("batch"), values.get("reason"))

    def home(filters: queue.Filters) -> str:
        return "/" + (f"?{filters.query()}" if filters.query() else "")

    # -- login -----------------------------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, ctx: Ctx):
        target = _local(request.query_params.get("next"))
        if ctx.session is not None:
            return RedirectResponse(target, status_code=303)
        return render("login.html", needs_token=settings.token is not None, next=target, error=None,
                      token=request.query_params.get("token", ""), name="")  # fmt: skip

    @app.post("/login")
    async def login(request: Request, posted: Posted, ctx: Ctx):
        target = _local(posted.get("next"))
        name = clean_reviewer(posted.get("name", ""))
        error = None
        if settings.token is not None and not token_matches(settings.token, posted.get("token")):
            await asyncio.sleep(0.5)  # slows guessing
            error = "That token is not right."
        elif name is None:
            error = "Type your name (1-64 characters): it is recorded with every correction."
        if error:
            return render("login.html", status=401 if "token" in error else 422, needs_token=settings.token is not None,
                          next=target, error=error, token="", name=posted.get("name", ""))  # fmt: skip
        cookie, _session = create_session(ctx.db, name, ctx.now)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", path="/", max_age=12 * 3600)
        return response

    @app.post("/logout")
    def logout(request: Request, posted: Posted, ctx: Ctx):
        session = checked(request, ctx, posted)
        end_session(ctx.db, session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- reviewing -------------------------------------------------------------------------------------------------

    def review_page(ctx: Context, filters: queue.Filters, status: int = 200, error: str | None = None,
                    typed: str | None = None) -> HTMLResponse:  # fmt: skip
        session = ctx.session
        assert session is not None
        field_id = queue.claim(ctx.db, session.id, session.reviewer, filters, ctx.now, settings.lease_seconds)
        flash = take_flash(ctx.db, session)
        with snapshot(ctx.db):
            current = load_field(ctx.db, out_dir, field_id) if field_id is not None else None
            upcoming = queue.peek_next(ctx.db, session.reviewer, filters, field_id) if field_id else None
            progress = queue.progress(ctx.db, filters, session.reviewer, session.created_at, ctx.now, session.id)
            choices = queue.filter_choices(ctx.db)
        exports = app.state.exports
        return render(
            "review.html", status=status, field=current, next_id=upcoming, progress=progress, filters=filters,
            choices=choices, session=session, error=error, flash=flash,
            typed=typed if typed is not None else (current.guess if current else ""),
            lease_seconds=settings.lease_seconds, export_error=exports.last_error,
            home=home(filters),
        )  # fmt: skip

    @app.get("/", response_class=HTMLResponse)
    def review(request: Request, ctx: Reviewer):
        return review_page(ctx, filters_of(request.query_params))

    @app.post("/decide")
    def decide_field(request: Request, posted: Posted, ctx: Ctx):
        session = checked(request, ctx, posted)
        filters = filters_of(posted)
        try:
            field_id = int(posted.get("field_id", ""))
        except ValueError:
            raise HTTPException(400, "field_id must be a number") from None
        action = posted.get("action", "save")
        try:
            if action == "skip":
                queue.skip(ctx.db, session.id, session.reviewer, field_id, ctx.now)
            elif action == "unreadable":
                decide(ctx.db, field_id, session.id, session.reviewer, "unreadable", None, ctx.now)
                app.state.exports.request()
            elif action == "save":
                name = ctx.db.execute("SELECT name FROM fields WHERE id = ?", (field_id,)).fetchone()
                if name is None:
                    raise Conflict(f"Field {field_id} is no longer in the results.")
                typed = posted.get("value", "")
                try:
                    keyed = parse_keyed(name[0], typed)
                except InvalidValue as exc:
                    return review_page(ctx, filters, status=422, error=str(exc), typed=typed)
                decide(ctx.db, field_id, session.id, session.reviewer, "correct", keyed, ctx.now)
                app.state.exports.request()
            else:
                raise HTTPException(400, "unknown action")
        except Conflict as exc:
            set_flash(ctx.db, session, str(exc))
        return RedirectResponse(home(filters), status_code=303)

    @app.post("/undo")
    def undo(request: Request, posted: Posted, ctx: Ctx):
        session = checked(request, ctx, posted)
        filters = filters_of(posted)
        field_id = reopen_last(ctx.db, session.id, session.reviewer, ctx.now, settings.lease_seconds)
        if field_id is None:
            set_flash(ctx.db, session, "Nothing to undo: your last decision was changed since, or there is none.")
            return RedirectResponse(home(filters), status_code=303)
        app.state.exports.request()
        set_flash(ctx.db, session, f"Field {field_id} reopened: change it and press Enter.")
        return RedirectResponse(home(queue.Filters()), status_code=303)

    @app.post("/heartbeat")
    def heartbeat(request: Request, posted: Posted, ctx: Ctx):
        session = checked(request, ctx, posted)
        try:
            field_id = int(posted.get("field_id", ""))
        except ValueError:
            raise HTTPException(400, "field_id must be a number") from None
        kept = queue.renew(ctx.db, session.id, field_id, ctx.now, settings.lease_seconds)
        return JSONResponse({"lease": "kept" if kept else "lost"})

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request, ctx: Reviewer):
        filters = filters_of(request.query_params)
        where, params = filters.where()
        with snapshot(ctx.db):
            waiting = ctx.db.execute(
                "SELECT f.id, f.name, f.reason, f.confidence, f.text, d.document, d.page, d.batch_id, d.processed_at,"
                " l.reviewer AS holder FROM fields f JOIN documents d ON d.id = f.document_id"
                " LEFT JOIN review_leases l ON l.field_id = f.id AND l.expires_at > ?"
                f" WHERE f.review_state = 'pending'{where} ORDER BY d.processed_at, f.id LIMIT 500",
                [stamp(ctx.now), *params],
            ).fetchall()
            decided = ctx.db.execute(
                "SELECT c.*, d.document FROM corrections c LEFT JOIN documents d ON d.sha256 = c.sha256"
                " AND d.page = c.page ORDER BY c.id DESC LIMIT 100"
            ).fetchall()
            progress = queue.progress(ctx.db, filters, ctx.session.reviewer, ctx.session.created_at, ctx.now,
                                      ctx.session.id)
            choices = queue.filter_choices(ctx.db)
        return render("queue.html", waiting=waiting, decided=decided, progress=progress, filters=filters,
                      choices=choices, session=ctx.session, home=home(filters))  # fmt: skip

    # -- images, by id only ----------------------------------------------------------------------------------------

    @app.get("/crop/{field_id}")
    def crop(field_id: int, ctx: Viewer):
        row = ctx.db.execute("SELECT crop FROM fields WHERE id = ?", (field_id,)).fetchone()
        path = crop_file(out_dir, row[0]) if row else None
        if path is None:
            raise HTTPException(404, "no crop for this field")
        return Response(path.read_bytes(), media_type="image/png", headers={"Cache-Control": "private, max-age=600"})

    @app.get("/page/{document_id}")
    def page(document_id: int, request: Request, ctx: Viewer):
        row = ctx.db.execute("SELECT page FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such document")
        bbox = None
        field_param = request.query_params.get("field", "")
        if field_param.isascii() and field_param.isdigit():
            found = ctx.db.execute(
                "SELECT bbox FROM fields WHERE id = ? AND document_id = ?", (int(field_param), document_id)
            ).fetchone()
            bbox = _bbox(found[0]) if found else None
        path = locator.find(ctx.db, document_id)
        if path is None:
            where = ", ".join(locator.searched(ctx.db)) or "no input folders recorded"
            raise HTTPException(404, f"the scan is not available (looked under: {where}); start the page with "
                                     "--scans DIR to say where the scans are now")  # fmt: skip
        try:
            data = page_view(path, row[0], bbox)
        except ScanError as exc:
            raise HTTPException(404, f"the scan cannot be shown: {exc}") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"})

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:  # a fixed list: no path is ever built from the request
            raise HTTPException(404)
        return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                        headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip

    return app


def _local(target: str | None) -> str:
    """Only paths on this site are followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _bbox(text: str | None) -> list[int] | None:
    try:
        box = json.loads(text) if text else None
    except ValueError:
        return None
    return [int(v) for v in box] if isinstance(box, list) and len(box) == 4 else None
