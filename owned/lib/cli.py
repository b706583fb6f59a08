"""`pinterest-oauth`: log in once from a terminal, then print a fresh access token for any script.

    pinterest-oauth login                 # browser consent, token saved to the store
    pinterest-oauth token                 # a valid access token on stdout (refreshed if needed)
    pinterest-oauth status [--json]       # what is stored, without secrets

Built on the package's public API only: `authorization_url` / `code_from_callback`,
`TokenSession` with a `FileTokenStore`, and `OauthApi` for client tokens. The app secret comes
from PINTEREST_APP_SECRET or a prompt without echo, never from the command line. Nothing
secret is printed except the access token that `token` and `client-token` exist to print.
Exit statuses: see EXIT_STATUSES (also in `pinterest-oauth --help`).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from pinterest_oauth import __version__
from pinterest_oauth.exceptions import ApiTypeError, ApiValueError, OpenApiException
from pinterest_oauth.lib.authorize import AuthorizationError, authorization_url
from pinterest_oauth.lib.errors import InvalidResponseError, PinterestApiError, TransportError

# The modules below load pydantic and the models: imported where a command needs them, so that
# --help and usage errors answer at once.
if TYPE_CHECKING:
    from pinterest_oauth.lib.session import TokenSession
    from pinterest_oauth.lib.stores import FileTokenStore
    from pinterest_oauth.lib.tokens import Token

EXIT_OK = 0
EXIT_LOGIN_FAILED = 1
EXIT_USAGE = 2
EXIT_REAUTHORIZE = 3
EXIT_NETWORK = 4
EXIT_SERVER = 5
EXIT_STORE = 6
EXIT_INTERRUPTED = 130

EXIT_STATUSES = """\
exit statuses:
  0    success
  1    login did not complete (declined in the browser, state mismatch, no redirect
       before --timeout, port in use) or an unexpected error
  2    usage: bad option or argument, missing app id or secret
  3    re-authorization required: no token stored, refresh token expired or rejected,
       or code rejected; run `pinterest-oauth login`
  4    network: could not connect, or a timeout
  5    Pinterest answered with an error (HTTP 4xx/5xx, e.g. wrong app id or secret) or
       with an invalid token response
  6    the token store could not be read or written
  130  interrupted (Ctrl-C); the stored token is left complete"""

ENV_APP_ID = "PINTEREST_APP_ID"
ENV_APP_SECRET = "PINTEREST_APP_SECRET"
DEFAULT_REDIRECT_URI = "http://localhost:8085/"
DEFAULT_SCOPE = "user_accounts:read,boards:read,pins:read"
DEFAULT_LOGIN_TIMEOUT = 300.0
_DAY = 86400.0

log = logging.getLogger("pinterest_oauth.cli")


class CliError(Exception):
    """An expected failure: `message` for stderr, `status` for the exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- paths, credentials, output ---------------------------------------------------------------

def default_store_path() -> Path:
    """$XDG_CONFIG_HOME/pinterest-oauth/token.json, or ~/.config/... when that is unset."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "pinterest-oauth" / "token.json"


def _store_path(args: argparse.Namespace) -> Path:
    return Path(args.store).expanduser().absolute() if args.store else default_store_path()


def _open_store(path: Path, *, writable: bool) -> FileTokenStore:
    """The store at `path`; when `writable`, its directory exists (created 0700) and is lockable."""
    if path.is_dir():
        raise CliError(EXIT_USAGE, f"the store {path} is a directory; give a file path with --store")
    if writable:
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, mode=0o700)
                os.chmod(path.parent, 0o700)  # whatever the umask
            except OSError as exc:
                raise CliError(EXIT_STORE, f"cannot create {path.parent}: {exc.strerror or exc}") from None
        elif not path.parent.is_dir():
            raise CliError(EXIT_STORE, f"cannot use {path}: {path.parent} is not a directory")
    from pinterest_oauth.lib.stores import FileTokenStore

    store = FileTokenStore(path)
    if writable:
        with store.lock():  # fails now, not after the user approved the app
            if not os.access(path.parent, os.W_OK | os.X_OK):
                raise CliError(EXIT_STORE, f"cannot write to {path.parent} (permission denied)")
    return store


def _ask(prompt: str, *, secret: bool, env: str) -> str:
    what = "secret" if secret else "id"
    if not sys.stdin.isatty():
        raise CliError(EXIT_USAGE, f"no app {what}: set {env} (or run in a terminal to be asked)")
    try:
        if secret:
            value = getpass.getpass(prompt)
        else:
            sys.stderr.write(prompt)
            sys.stderr.flush()
            value = sys.stdin.readline()
    except EOFError:
        value = ""
    if not value.strip():
        raise CliError(EXIT_USAGE, f"no app {what} given (you can also set {env})")
    return value.strip()


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    """(app id, app secret) from --client-id / the environment / a prompt (the secret without echo)."""
    client_id = args.client_id or os.environ.get(ENV_APP_ID) or _ask(
        "Pinterest app id: ", secret=False, env=ENV_APP_ID)
    secret = os.environ.get(ENV_APP_SECRET) or _ask(
        "Pinterest app secret (not shown): ", secret=True, env=ENV_APP_SECRET)
    return client_id, secret


def _session(args: argparse.Namespace, store: FileTokenStore,
             credentials: Optional[tuple[str, str]] = None) -> TokenSession:
    from pinterest_oauth.lib.session import TokenSession

    client_id, secret = credentials or _credentials(args)
    return TokenSession(client_id, secret, store, host=args.host,
                        continuous_refresh=args.continuous_refresh)


def _local_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def _relative(seconds: float) -> str:
    """'in 29 days', '5 hours ago', ..."""
    span = abs(seconds)
    for unit, size in (("day", _DAY), ("hour", 3600.0), ("minute", 60.0)):
        if span >= 2 * size:
            count = int(span // size)
            break
    else:
        unit, count = "second", int(span)
    text = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _when(ts: Optional[float], now: float) -> str:
    if ts is None:
        return "expiry unknown"
    verb = "expires" if ts > now else "expired"
    return f"{verb} {_local_time(ts):%Y-%m-%d %H:%M:%S %Z} ({_relative(ts - now)})"


def _scopes(token: Token) -> list[str]:
    return [s for s in token.scope.replace(",", " ").split() if s]


def _describe(token: Token, path: Path) -> str:
    now = time.time()
    refresh = (_when(token.refresh_token_expires_at, now) if token.refresh_token is not None
               else "none (log in again when the access token expires)")
    return (
        f"  store:          {path}\n"
        f"  scopes:         {', '.join(_scopes(token)) or '(none)'}\n"
        f"  token type:     {token.token_type}\n"
        f"  access token:   {_when(token.expires_at, now)}\n"
        f"  refresh token:  {refresh}"
    )


def _status_json(token: Token, path: Path, usable: bool) -> dict[str, Any]:
    now = time.time()

    def expiry(ts: Optional[float]) -> dict[str, Any]:
        if ts is None:
            return {"expires_at": None, "expires_in_seconds": None, "expired": None}
        return {"expires_at": _local_time(ts).isoformat(timespec="seconds"),
                "expires_in_seconds": int(ts - now), "expired": ts <= now}

    return {
        "store": str(path),
        "stored": True,
        "usable": usable,
        "scopes": _scopes(token),
        "token_type": token.token_type,
        "response_type": token.response_type,
        "obtained_at": _local_time(token.obtained_at).isoformat(timespec="seconds"),
        "access_token": expiry(token.expires_at),
        "refresh_token": {"present": token.refresh_token is not None,
                          **expiry(token.refresh_token_expires_at if token.refresh_token is not None else None)},
    }


def _print_token(value: str) -> None:
    sys.stdout.write(value + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def _finish_before_interrupt() -> Iterator[None]:
    """Let a token request and its save complete before Ctrl-C takes effect (a second Ctrl-C
    aborts at once): an exchanged code or a rotated refresh token is not thrown away."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []

    def later(signum: int, frame: Optional[FrameType]) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        sys.stderr.write("pinterest-oauth: finishing the token request first (Ctrl-C again to abort)\n")

    previous = signal.signal(signal.SIGINT, later)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _exchange_and_save(args: argparse.Namespace, store: FileTokenStore, code: str,
                       credentials: Optional[tuple[str, str]] = None) -> Token:
    """Exchange the code and save the token, trying the save once more if it fails (the code
    is used up by then); Ctrl-C waits until both are done."""
    from pinterest_oauth.lib.stores import TokenStoreError

    with _session(args, store, credentials) as session, _finish_before_interrupt():
        try:
            return session.exchange_code(code, args.redirect_uri)
        except TokenStoreError as exc:
            if exc.token is None or exc.committed:
                raise
            log.warning("%s; trying once more", exc)
            with store.lock():
                store.save(exc.token)
            return exc.token


# -- commands --------------------------------------------------------------------------------

def cmd_login(args: argparse.Namespace) -> int:
    from pinterest_oauth.lib.loopback import CallbackReceiver  # only login needs a server

    path = _store_path(args)
    store = _open_store(path, writable=True)
    client_id, secret = _credentials(args)
    try:
        receiver = CallbackReceiver(args.redirect_uri)
    except OSError as exc:
        raise CliError(EXIT_LOGIN_FAILED,
                       f"cannot listen for the redirect on {args.redirect_uri} ({exc.strerror or exc}); "
                       "is another login running? Use another registered --redirect-uri") from None
    with receiver:
        url, state = authorization_url(client_id, args.redirect_uri, args.scope)
        opened = False
        if not args.no_browser:
            import webbrowser

            with contextlib.suppress(Exception):
                opened = webbrowser.open(url)
        action = "Your browser should open Pinterest's consent page; if not, open" if opened else "Open"
        sys.stderr.write(
            f"{action} this URL and approve the app (waiting {args.timeout:g} s):\n\n{url}\n\n"
        )
        sys.stderr.flush()
        log.debug("listening on %s for the redirect", args.redirect_uri)
        code = receiver.wait(state, args.timeout)
    log.debug("callback received; exchanging the code")
    token = _exchange_and_save(args, store, code, (client_id, secret))
    sys.stdout.write(f"Logged in; the token is saved.\n{_describe(token, path)}\n")
    return EXIT_OK


def cmd_exchange(args: argparse.Namespace) -> int:
    path = _store_path(args)
    store = _open_store(path, writable=True)
    code = args.code
    if code is None or code == "-":
        code = (getpass.getpass("Authorization code (not shown): ") if sys.stdin.isatty()
                else sys.stdin.readline()).strip()
        if not code:
            raise CliError(EXIT_USAGE, "no authorization code given")
    token = _exchange_and_save(args, store, code)
    sys.stdout.write(f"Code exchanged; the token is saved.\n{_describe(token, path)}\n")
    return EXIT_OK


def _stored_session_token(args: argparse.Namespace, force: bool) -> tuple[Token, Path]:
    """The stored token, refreshed if needed (or always, with `force`); one more attempt to save
    a refreshed token whose save failed (the session saves it before anything else)."""
    from pinterest_oauth.lib.stores import TokenStoreError

    path = _store_path(args)
    store = _open_store(path, writable=False)
    if store.load() is None:
        raise CliError(EXIT_REAUTHORIZE, f"no token stored in {path}: run `pinterest-oauth login`")
    with _session(args, store) as session, _finish_before_interrupt():
        try:
            token = session.refresh() if force else session.token()
        except TokenStoreError as exc:
            if exc.token is None:
                raise
            log.warning("%s", exc)
            token = session.token()
    return token, path


def cmd_token(args: argparse.Namespace) -> int:
    token, _ = _stored_session_token(args, force=False)
    _print_token(token.access_token.get_secret_value())
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace) -> int:
    token, path = _stored_session_token(args, force=True)
    sys.stdout.write(f"Refreshed.\n{_describe(token, path)}\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    path = _store_path(args)
    store = _open_store(path, writable=False)
    token = store.load()
    if token is None:
        if args.json:
            _print_token(json.dumps({"store": str(path), "stored": False, "usable": False}))
        raise CliError(EXIT_REAUTHORIZE, f"no token stored in {path}: run `pinterest-oauth login`")
    now = time.time()
    refresh_ok = token.refresh_token is not None and (
        token.refresh_token_expires_at is None or token.refresh_token_expires_at > now)
    usable = token.is_valid(now) or refresh_ok
    if args.json:
        _print_token(json.dumps(_status_json(token, path, usable), indent=2))
    else:
        sys.stdout.write(f"{_describe(token, path)}\n")
    if not usable:
        raise CliError(EXIT_REAUTHORIZE, "the stored token has expired and cannot be refreshed: "
                                         "run `pinterest-oauth login`")
    return EXIT_OK


def cmd_client_token(args: argparse.Namespace) -> int:
    from pinterest_oauth.api.oauth_api import OauthApi
    from pinterest_oauth.lib.client import ApiClient, Configuration

    client_id, secret = _credentials(args)
    api = OauthApi(ApiClient(Configuration(host=args.host, username=client_id, password=secret)))
    response = api.oauth_token(grant_type="client_credentials", scope=args.scope)
    log.debug("client token for scope %s, valid %d seconds", response.scope, response.expires_in)
    _print_token(response.access_token.get_secret_value())
    return EXIT_OK


# -- argument parsing --------------------------------------------------------------------------

class _RefuseSecretOption(argparse.Action):
    """`--client-secret` on the command line would be visible to every user (`ps`): refuse it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        parser.error(f"{option_string} is not accepted: a secret on the command line is visible to "
                     f"other users; set {ENV_APP_SECRET} or let pinterest-oauth ask for it")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pinterest-oauth",
        description="Log in to Pinterest once, then print a fresh access token for any script.",
        epilog=f"{EXIT_STATUSES}\n\nRun `pinterest-oauth COMMAND --help` for a command's options.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="log what happens to stderr (never a secret)")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="PATH",
                       help="token file (default: $XDG_CONFIG_HOME/pinterest-oauth/token.json, "
                            "else ~/.config/pinterest-oauth/token.json)")
    app = argparse.ArgumentParser(add_help=False)
    app.add_argument("--client-id", metavar="ID", help=f"the app id (default: ${ENV_APP_ID}, else asked)")
    app.add_argument("--client-secret", "--app-secret", nargs="?", action=_RefuseSecretOption,
                     help=argparse.SUPPRESS)
    app.add_argument("--host", metavar="URL",
                     help="API base URL (default https://api.pinterest.com/v5; "
                          "sandbox: https://api-sandbox.pinterest.com/v5)")
    continuous = argparse.ArgumentParser(add_help=False)
    continuous.add_argument("--continuous-refresh", action="store_const", const=True, default=None,
                            help="send continuous_refresh=true (apps created before 2025-09-25 need it "
                                 "for rotating 60-day refresh tokens)")
    secret_note = f"The app secret comes from ${ENV_APP_SECRET} or a prompt without echo."

    def add(name: str, func: Callable[[argparse.Namespace], int], text: str,
            parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text.splitlines()[0], description=text,
                                  parents=parents, formatter_class=formatter, epilog=EXIT_STATUSES)
        sub.set_defaults(func=func)
        return sub

    login = add("login", cmd_login,
                "Authorize the app in the browser and save the token.\n\n"
                "Opens Pinterest's consent page, receives the redirect on --redirect-uri (which must "
                "be registered\nin the app's settings on developers.pinterest.com), checks its state, "
                f"exchanges the code and\nsaves the token. {secret_note}",
                [common, app, store, continuous])
    login.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI, metavar="URI",
                       help=f"a registered loopback redirect URI to listen on (default {DEFAULT_REDIRECT_URI})")
    login.add_argument("--scope", default=DEFAULT_SCOPE,
                       help=f"comma-separated scopes to ask for (default {DEFAULT_SCOPE})")
    login.add_argument("--no-browser", action="store_true",
                       help="do not open a browser; print the URL (to stderr) to open yourself")
    login.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_LOGIN_TIMEOUT, metavar="SECONDS",
                       help=f"give up when no redirect arrived after this long (default {DEFAULT_LOGIN_TIMEOUT:g})")

    add("token", cmd_token,
        "Print a valid access token on stdout, and nothing else.\n\n"
        "Refreshes it first when it expires within 5 minutes (one refresh at a time across every\n"
        f"process sharing the store) and saves the rotated refresh token. {secret_note}\n\n"
        'Example: curl -H "Authorization: Bearer $(pinterest-oauth token)" '
        "https://api.pinterest.com/v5/user_account",
        [common, app, store, continuous])

    status = add("status", cmd_status,
                 "Show what is stored, without secrets: scopes, token type, expiry times, store path.\n\n"
                 "Exits 3 when nothing is stored or the token can no longer be refreshed.",
                 [common, store])
    status.add_argument("--json", action="store_true", help="print a JSON object instead")

    add("refresh", cmd_refresh,
        f"Refresh the access token now and show the new expiry.\n\n{secret_note}",
        [common, app, store, continuous])

    exchange = add("exchange", cmd_exchange,
                   "Exchange an authorization code obtained elsewhere and save the token.\n\n"
                   "Without --code (or with --code -) the code is read from stdin (a terminal does not "
                   f"echo it).\n{secret_note}",
                   [common, app, store, continuous])
    exchange.add_argument("--code", help="the authorization code (single-use; expires in minutes)")
    exchange.add_argument("--redirect-uri", required=True, metavar="URI",
                          help="the redirect URI the code was sent to, exactly as registered")

    client = add("client-token", cmd_client_token,
                 "Print a client_credentials access token (acting as the app, not a user) on stdout.\n\n"
                 "The token is not stored: it has no refresh token, so run this again when it expires.\n"
                 f"{secret_note}",
                 [common, app])
    client.add_argument("--scope", required=True, help="comma-separated scopes")
    return parser


# -- entry point ---------------------------------------------------------------------------------

def _setup_logging(verbose: bool) -> None:
    package = logging.getLogger("pinterest_oauth")
    for old in [h for h in package.handlers if getattr(h, "_pinterest_oauth_cli", False)]:
        package.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pinterest-oauth: %(levelname)s: %(message)s"))
    handler._pinterest_oauth_cli = True  # type: ignore[attr-defined]
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if verbose else logging.WARNING)
    package.propagate = False


def _failure(exc: BaseException) -> tuple[int, str]:
    """The exit status and message for an expected failure (package exceptions never hold secrets)."""
    login_hint = "run `pinterest-oauth login`"
    if isinstance(exc, CliError):
        return exc.status, str(exc)
    if isinstance(exc, AuthorizationError):
        return EXIT_LOGIN_FAILED, f"login failed: {exc}"
    if isinstance(exc, TransportError):
        return EXIT_NETWORK, f"network: {exc}"
    if isinstance(exc, PinterestApiError):
        if exc.is_invalid_grant:
            return EXIT_REAUTHORIZE, (f"Pinterest rejected the grant ({exc}); codes are single-use and "
                                      f"expire within minutes: {login_hint} to authorize again")
        hint = (f"; check the app id and {ENV_APP_SECRET}" if exc.status in (401, 403) else "")
        return EXIT_SERVER, f"Pinterest answered: {exc}{hint}"
    if isinstance(exc, InvalidResponseError):
        return EXIT_SERVER, str(exc)
    if isinstance(exc, (ApiValueError, ApiTypeError)):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OpenApiException):
        from pinterest_oauth.lib.session import ReauthorizationRequired
        from pinterest_oauth.lib.stores import TokenStoreError

        if isinstance(exc, ReauthorizationRequired):
            return EXIT_REAUTHORIZE, f"re-authorization required: {exc}\n{login_hint} to authorize the app again"
        if isinstance(exc, TokenStoreError):
            return EXIT_STORE, f"token store: {exc}"
        return EXIT_LOGIN_FAILED, f"{type(exc).__name__}: {exc}"
    return EXIT_LOGIN_FAILED, (f"unexpected error ({type(exc).__name__}); run with --verbose for where "
                               "it happened, and please report it")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        status: int = args.func(args)
        return status
    except KeyboardInterrupt:
        sys.stderr.write("\npinterest-oauth: interrupted; the stored token was left complete\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        status, message = _failure(exc)
        if args.verbose and status == EXIT_LOGIN_FAILED and not isinstance(exc, (OpenApiException, CliError)):
            import traceback

            traceback.print_tb(exc.__traceback__, file=sys.stderr)  # frames only: no values
        sys.stderr.write(f"pinterest-oauth: {message}\n")
        return status


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
