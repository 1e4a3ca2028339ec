"""The managed-login (hosted UI) logout link: :func:`logout_url`.

GlobalSignOut revokes a user's tokens but leaves the managed-login session cookie alive, so the
next visit to the hosted UI signs the user straight back in. Sending the browser to
``GET https://<domain>/logout`` ends that cookie (and revokes no token). This module builds that
link, and refuses anything that could turn it into an open redirect: Cognito checks the URI
against the app client's allowed sign-out or callback URLs, but a link this SDK builds should
never depend on that check alone.

The rules, each a :class:`~cognito_signout.errors.ConstructionFailure` when broken:

- ``domain`` is a bare host name (``myapp.auth.eu-west-1.amazoncognito.com``,
  ``auth.example.com``) or an ``https://`` URL with an optional port and nothing after ``/``.
  The host is an ASCII DNS name (an internationalised domain goes in its ``xn--`` form),
  lower-cased in the result; an IP address is refused.
- ``client_id`` matches Cognito's model: 1 to 128 of ``[A-Za-z0-9_+]``. No message quotes it.
- Exactly one of ``logout_uri`` (sign out and land there) or ``redirect_uri`` (sign out and sign
  in again, with ``response_type`` ``"code"`` or ``"token"``, optional ``scope`` and
  ``state``). Sign-in parameters with ``logout_uri`` are refused, not dropped.
- A URI is at most 1024 characters (Cognito's limit for a sign-out or callback URL), made only
  of the characters Cognito's pattern allows (letters, marks, symbols, numbers, punctuation: no
  space, control or format character), with no ``#`` and no backslash, and is one of:
  ``https://host[:port]...`` (host a DNS name or an IPv4 address), ``http://localhost[:port]...``
  or a native app's own scheme (``myapp://signed-out``, ``com.example.app:/cb``). A custom
  scheme is never one a browser acts on itself (``javascript``, ``data``, ``file``, ``blob``,
  ``intent`` ...: see ``_BROWSER_SCHEMES``) nor a single letter (a Windows drive). No URI has
  userinfo (``https://evil@host``).
- ``scope`` is a sequence of scope tokens or one space-separated string of them; a token is what
  RFC 6749 and Cognito allow (printable ASCII but space, ``"`` and ``\\``), at most 256
  characters, and there are at most 50 of them.
- ``state`` is 1 to 2048 characters of any text but control characters, lone surrogates and
  line or paragraph separators. No message quotes it.

Every value is percent-encoded (``%20`` for a space), in the order client_id, logout_uri or
redirect_uri, response_type, scope, state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote, urlencode

from .errors import ConstructionFailure

__all__ = ["logout_url"]

_MAX_URI = 1024  # Cognito's RedirectUrlType: the longest sign-out or callback URL it stores
_MAX_STATE = 2048
_MAX_SCOPE = 256  # Cognito's ScopeType
_MAX_SCOPES = 50  # Cognito's AllowedOAuthScopesListType
_MAX_DOMAIN = 253 + len("https://") + len(":65535/")

_CLIENT_ID = re.compile(r"[\w+]{1,128}", re.ASCII)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII | re.IGNORECASE)
# A host whose last label is a number (or 0x...) is an IPv4 address to a browser's URL parser.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.ASCII | re.IGNORECASE)
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]"
                   r"|1[0-9][0-9]|[1-9]?[0-9])){3}", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):", re.ASCII)
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}", re.ASCII)
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]*", re.ASCII)

# Schemes a browser handles itself (runs, reads, shows, hands to another site or to its own
# pages) rather than handing to the native app that registered them. Compared lower-cased.
# http and https are checked by their own rules before this list is consulted.
_BROWSER_SCHEMES = frozenset({
    "http", "https", "javascript", "vbscript", "livescript", "data", "file", "filesystem",
    "blob", "about", "view-source", "ftp", "ftps", "sftp", "ws", "wss", "gopher", "jar", "cid",
    "mid", "intent", "android-app", "chrome", "chrome-extension", "chrome-untrusted",
    "chrome-search", "edge", "brave", "opera", "vivaldi", "moz-extension", "resource",
    "ms-browser-extension", "safari-extension", "safari-web-extension", "webkit-extension",
    "wyciwyg", "googlechrome", "googlechromes", "firefox", "microsoft-edge",
    "microsoft-edge-https", "x-safari-https", "x-safari-http", "opera-http", "opera-https",
    "mailto", "tel", "sms", "news", "nntp", "telnet", "ldap", "irc", "magnet", "ms-its",
    "mhtml", "res", "its", "search-ms", "ms-search", "shell",
})

# What state may not hold: control characters (C0, DEL, C1), lone surrogates, line and
# paragraph separators (general categories Cc, Cs, Zl and Zp).
_STATE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def logout_url(
    domain: str,
    *,
    client_id: str,
    logout_uri: str | None = None,
    redirect_uri: str | None = None,
    response_type: Literal["code", "token"] | None = None,
    scope: str | Sequence[str] | None = None,
    state: str | None = None,
) -> str:
    """Build the managed-login logout link that ends the user's hosted-UI session.

    Send the browser there after (or instead of) :meth:`Client.global_sign_out`: GlobalSignOut
    revokes tokens but leaves the managed-login session cookie, which this endpoint ends. The
    endpoint itself revokes no token.

    Give ``logout_uri`` (one of the app client's allowed sign-out URLs) to land there signed
    out, or ``redirect_uri`` (an allowed callback URL) with ``response_type`` and optionally
    ``scope`` and ``state`` to send the user through sign-in again. Cognito still checks either
    URI against the app client's allowed URLs; this function only refuses those no allow-list
    should hold (see the module documentation for every rule).

    Args:
        domain: the user pool's domain, bare (``myapp.auth.eu-west-1.amazoncognito.com``, a
            custom ``auth.example.com``) or as ``https://auth.example.com``.
        client_id: the app client ID.
        logout_uri: where to land after signing out.
        redirect_uri: where sign-in again returns to; needs ``response_type``.
        response_type: ``"code"`` or ``"token"``, only with ``redirect_uri``.
        scope: scopes to ask for at sign-in again, a sequence or one space-separated string.
        state: an opaque value returned to ``redirect_uri``.

    Returns:
        ``https://<domain>/logout?...`` with every value percent-encoded.

    Raises:
        ConstructionFailure: an argument breaks a rule; the message names the parameter and the
            rule, and never quotes ``client_id`` or ``state``.

    Example:
        >>> logout_url("myapp.auth.eu-west-1.amazoncognito.com",
        ...            client_id="1example23456789", logout_uri="https://app.example.com/bye")
        'https://myapp.auth.eu-west-1.amazoncognito.com/logout?client_id=1example23456789&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye'
        >>> logout_url("https://auth.example.com", client_id="1example23456789",
        ...            redirect_uri="myapp://signed-in", response_type="code",
        ...            scope=("openid", "email"), state="a b&c")
        'https://auth.example.com/logout?client_id=1example23456789&redirect_uri=myapp%3A%2F%2Fsigned-in&response_type=code&scope=openid%20email&state=a%20b%26c'
    """
    origin = _origin(domain)
    pairs: list[tuple[str, str]] = [("client_id", _client_id(client_id))]
    if logout_uri is not None and redirect_uri is not None:
        raise ConstructionFailure(
            "logout_url: give logout_uri (sign out) or redirect_uri (sign in again), not both")
    if logout_uri is not None:
        for name, value in (("response_type", response_type), ("scope", scope),
                            ("state", state)):
            if value is not None:
                raise ConstructionFailure(
                    f"logout_url: {name} is a sign-in-again parameter and needs redirect_uri; "
                    "logout_uri takes none")
        pairs.append(("logout_uri", _uri("logout_uri", logout_uri)))
    elif redirect_uri is not None:
        pairs.append(("redirect_uri", _uri("redirect_uri", redirect_uri)))
        if response_type is None:
            raise ConstructionFailure(
                "logout_url: redirect_uri needs response_type ('code' or 'token')")
        if type(response_type) is not str or response_type not in ("code", "token"):
            raise ConstructionFailure("logout_url: response_type must be 'code' or 'token'")
        pairs.append(("response_type", response_type))
        if scope is not None:
            pairs.append(("scope", _scope(scope)))
        if state is not None:
            pairs.append(("state", _state(state)))
    else:
        raise ConstructionFailure(
            "logout_url: give logout_uri (sign out) or redirect_uri (sign in again)")
    return f"{origin}/logout?{urlencode(pairs, quote_via=quote)}"


def _text(name: str, value: object) -> str:
    """``value`` as an exact ``str`` (a subclass may override what the checks use)."""
    if not isinstance(value, str):
        raise ConstructionFailure(f"logout_url: {name} must be a str, not {type(value).__name__}")
    return value if type(value) is str else str.__str__(value)


def _origin(domain: object, who: str = "logout_url: domain") -> str:
    """The https origin of a managed-login domain; ``who`` names it in errors."""
    text = _text("domain", domain)
    if not text:
        raise ConstructionFailure(f"{who} is empty")
    if len(text) > _MAX_DOMAIN:
        raise ConstructionFailure(f"{who} is too long")
    if not text.isascii():
        raise ConstructionFailure(
            f"{who} must be ASCII; give an internationalised domain in its "
            "punycode (xn--) form")
    if not _PRINTABLE_ASCII.fullmatch(text):
        raise ConstructionFailure(
            f"{who} must not contain whitespace or control characters")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() != "https":
            shown = f"{scheme[:32]}://" if _SCHEME.fullmatch(f"{scheme}:") else "that"
            raise ConstructionFailure(
                f"{who} must be a host name or an https:// URL, not {shown}")
        authority, _, path = rest.partition("/")
        if path or any(char in authority for char in "?#"):
            raise ConstructionFailure(
                f"{who} must have no path, query or fragment (the /logout path "
                "is added)")
        if "@" in authority:
            raise ConstructionFailure(f"{who} must have no userinfo (user@)")
        host, colon, port = authority.partition(":")
        if colon:
            port = _port("domain", port, who)
    else:
        if any(char in text for char in "/?#@\\:"):
            raise ConstructionFailure(
                f"{who} must be a host name such as auth.example.com, or an "
                "https:// URL (which may carry a port); no path, query, fragment or userinfo")
        host, port = text, ""
    if not _is_dns_name(host):
        raise ConstructionFailure(
            f"{who} must be a DNS name (letters, digits and hyphens in dot-separated "
            "labels), not an IP address")
    return f"https://{host.lower()}{':' + port if port and port != '443' else ''}"


def _port(name: str, port: str, who: str | None = None) -> str:
    if not _PORT.fullmatch(port) or not 0 < int(port) <= 65535:
        shown = who or f"logout_url: {name}"
        raise ConstructionFailure(f"{shown} has an invalid port (1 to 65535)")
    return str(int(port))


def _is_dns_name(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return False
    return all(_LABEL.fullmatch(label) for label in labels)


def _client_id(client_id: object) -> str:
    text = _text("client_id", client_id)
    if not _CLIENT_ID.fullmatch(text):
        raise ConstructionFailure(
            "logout_url: client_id must be 1 to 128 letters, digits, '_' or '+' (an app "
            "client ID)")
    return text


def _uri(name: str, uri: object) -> str:
    """``uri`` unchanged (Cognito compares it with the allowed URLs as given), if allowed."""
    text = _text(name, uri)
    if not text:
        raise ConstructionFailure(f"logout_url: {name} is empty")
    if len(text) > _MAX_URI:
        raise ConstructionFailure(f"logout_url: {name} is longer than {_MAX_URI} characters")
    # Cognito's RedirectUrlType pattern [\p{L}\p{M}\p{S}\p{N}\p{P}]+ is exactly the
    # printable characters but the space (the only whitespace str.isprintable lets through).
    if not text.isprintable() or " " in text:
        raise ConstructionFailure(
            f"logout_url: {name} must not contain whitespace, control or format characters")
    if "#" in text:
        raise ConstructionFailure(f"logout_url: {name} must not have a fragment (#)")
    if "\\" in text:
        raise ConstructionFailure(
            f"logout_url: {name} must not contain a backslash (browsers read it as /)")
    match = _SCHEME.match(text)
    if match is None:
        raise ConstructionFailure(
            f"logout_url: {name} must be absolute, starting with a scheme such as https://")
    scheme = match.group(1).lower()
    rest = text[match.end():]
    authority = None
    if rest.startswith("//"):
        authority = re.split(r"[/?]", rest[2:], maxsplit=1)[0]
        if "@" in authority:
            raise ConstructionFailure(f"logout_url: {name} must have no userinfo (user@)")
    if scheme in ("https", "http"):
        if authority is None:
            raise ConstructionFailure(f"logout_url: {name} must be {scheme}://host/...")
        host, colon, port = authority.partition(":")
        if colon:
            _port(name, port)
        if scheme == "http":
            if not (host.isascii() and host.lower() == "localhost"):
                raise ConstructionFailure(
                    f"logout_url: {name} may use http:// only for localhost; use https://")
        elif not (_is_dns_name(host) or _IPV4.fullmatch(host)):
            raise ConstructionFailure(
                f"logout_url: {name} must have a host that is a DNS name or an IPv4 address")
        return text
    if scheme in _BROWSER_SCHEMES:
        raise ConstructionFailure(
            f"logout_url: {name} must not use the scheme {scheme[:32]}: (a browser acts on it); "
            "use https://, http://localhost or your app's own scheme")
    if len(scheme) == 1:
        raise ConstructionFailure(
            f"logout_url: {name} must not use a one-letter scheme (a Windows drive letter)")
    if not rest or rest == "//":
        raise ConstructionFailure(f"logout_url: {name} has nothing after its scheme")
    return text


def _scope(scope: object) -> str:
    if isinstance(scope, str):
        tokens: Sequence[object] = _text("scope", scope).split(" ")
    elif isinstance(scope, Sequence) and not isinstance(scope, bytes | bytearray):
        tokens = scope
    else:
        raise ConstructionFailure(
            "logout_url: scope must be a str of space-separated scopes or a sequence (list, "
            f"tuple) of str, not {type(scope).__name__}")
    if not tokens:
        raise ConstructionFailure("logout_url: scope is empty; leave it out instead")
    if len(tokens) > _MAX_SCOPES:
        raise ConstructionFailure(f"logout_url: scope has more than {_MAX_SCOPES} scopes")
    checked = []
    for token in tokens:
        text = _text("each scope", token)
        if not _SCOPE_TOKEN.fullmatch(text):
            raise ConstructionFailure(
                f"logout_url: each scope must be 1 to {_MAX_SCOPE} printable ASCII characters "
                "without space, '\"' or '\\' (one space between scopes in a str)")
        checked.append(text)
    return " ".join(checked)


def _state(state: object) -> str:
    text = _text("state", state)
    if not text:
        raise ConstructionFailure("logout_url: state is empty; leave it out instead")
    if len(text) > _MAX_STATE:
        raise ConstructionFailure(f"logout_url: state is longer than {_MAX_STATE} characters")
    if _STATE_FORBIDDEN.search(text):
        raise ConstructionFailure(
            "logout_url: state must not contain control characters, lone surrogates or line "
            "separators")
    return text
