"""logout_url: the managed-login logout link, and every way it must refuse to become an open
redirect (a browser-acting scheme, a fragment, userinfo, a backslash, whitespace tricks, http to
another host) or to leak the client ID or state into an error message.
"""

from __future__ import annotations

import doctest
import re
import sys
import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cognito_signout._logout as logout_module
from cognito_signout._logout import logout_url
from cognito_signout.errors import ConstructionFailure

CID = "1example23456789abcdefghij"
PREFIX = "myapp.auth.eu-west-1.amazoncognito.com"
CUSTOM = "auth.example.com"
BYE = "https://app.example.com/bye"
CB = "https://app.example.com/cb"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


# --- good inputs ----------------------------------------------------------------------------


def test_prefix_domain_and_logout_uri() -> None:
    url = logout_url(PREFIX, client_id=CID, logout_uri=BYE)
    assert url == (f"https://{PREFIX}/logout?client_id={CID}"
                   "&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye")
    assert query(url) == {"client_id": [CID], "logout_uri": [BYE]}


def test_custom_domain_url_and_sign_in_again() -> None:
    url = logout_url(f"https://{CUSTOM}", client_id=CID, redirect_uri=CB,
                     response_type="code", scope=("openid", "email"), state="xyz")
    assert url == (f"https://{CUSTOM}/logout?client_id={CID}"
                   "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code"
                   "&scope=openid%20email&state=xyz")
    assert query(url) == {"client_id": [CID], "redirect_uri": [CB], "response_type": ["code"],
                          "scope": ["openid email"], "state": ["xyz"]}


@pytest.mark.parametrize("scope", [
    "openid email", ("openid", "email"), ["openid", "email"],
])
def test_scope_as_string_or_sequence_gives_the_same_link(scope: str | tuple[str, ...]) -> None:
    url = logout_url(CUSTOM, client_id=CID, redirect_uri=CB, response_type="token", scope=scope)
    assert url.endswith("&response_type=token&scope=openid%20email")
    assert query(url)["scope"] == ["openid email"]


def test_a_single_scope_string_is_not_split_into_characters() -> None:
    url = logout_url(CUSTOM, client_id=CID, redirect_uri=CB, response_type="code",
                     scope="openid")
    assert url.endswith("&scope=openid")


def test_custom_scope_names_a_resource_server_url() -> None:
    scope = ("openid", "https://api.example.com/read", "aws.cognito.signin.user.admin")
    url = logout_url(CUSTOM, client_id=CID, redirect_uri=CB, response_type="code", scope=scope)
    assert "&scope=openid%20https%3A%2F%2Fapi.example.com%2Fread%20aws.cognito.signin.user.admin" \
        in url
    assert query(url)["scope"] == [" ".join(scope)]


@pytest.mark.parametrize(("state", "encoded"), [
    ("a b&c=d", "a%20b%26c%3Dd"),
    ("x+y/z?w#v%", "x%2By%2Fz%3Fw%23v%25"),
    ("caf\u00e9 \u2713 \U0001f642", "caf%C3%A9%20%E2%9C%93%20%F0%9F%99%82"),
    ("\"'<>", "%22%27%3C%3E"),
])
def test_state_is_percent_encoded_and_round_trips(state: str, encoded: str) -> None:
    url = logout_url(CUSTOM, client_id=CID, redirect_uri=CB, response_type="code", state=state)
    assert url.endswith(f"&response_type=code&state={encoded}")
    assert query(url)["state"] == [state]


@pytest.mark.parametrize("uri", [
    "http://localhost/bye",
    "http://localhost:3000/signed-out",
    "http://LOCALHOST:8080",
    "https://app.example.com",
    "https://app.example.com:8443/bye?from=logout&x=%2F",
    "https://192.0.2.10/bye",
    "https://xn--bcher-kva.example/bye",
    "https://app.example.com/caf\u00e9",
    "myapp://signed-out",
    "com.example.app:/cb",
    "com.example.app:///cb",
    "exp+my-app://expo-development-client/?x=1",
    "https://evil.example/",  # any https URL: Cognito's allow-list decides which one is allowed
])
@pytest.mark.parametrize("mode", ["logout_uri", "redirect_uri"])
def test_allowed_uris_pass_through_unchanged(uri: str, mode: str) -> None:
    kwargs: dict[str, Any] = {mode: uri}
    if mode == "redirect_uri":
        kwargs["response_type"] = "code"
    url = logout_url(PREFIX, client_id=CID, **kwargs)
    assert query(url)[mode] == [uri]
    assert url.startswith(f"https://{PREFIX}/logout?client_id={CID}&{mode}=")


@pytest.mark.parametrize(("domain", "origin"), [
    (PREFIX, f"https://{PREFIX}"),
    ("Auth.Example.COM", "https://auth.example.com"),
    ("https://auth.example.com/", "https://auth.example.com"),
    ("HTTPS://Auth.Example.com", "https://auth.example.com"),
    ("https://auth.example.com:443", "https://auth.example.com"),
    ("https://auth.example.com:8443/", "https://auth.example.com:8443"),
    ("https://auth.example.com:08443", "https://auth.example.com:8443"),
    ("xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ("localhost", "https://localhost"),
    ("a1-b2.example.com", "https://a1-b2.example.com"),
])
def test_domain_forms(domain: str, origin: str) -> None:
    assert logout_url(domain, client_id=CID, logout_uri=BYE).startswith(
        f"{origin}/logout?client_id=")


@pytest.mark.parametrize("client_id", ["a", "A_b+9", "x" * 128])
def test_client_id_pattern(client_id: str) -> None:
    url = logout_url(PREFIX, client_id=client_id, logout_uri=BYE)
    assert query(url)["client_id"] == [client_id]


def test_str_subclasses_are_read_as_plain_strings() -> None:
    class Sneaky(str):
        def lower(self) -> str:
            return "https"

        def __contains__(self, item: object) -> bool:
            return False

    url = logout_url(Sneaky(PREFIX), client_id=Sneaky(CID), logout_uri=Sneaky(BYE))
    assert query(url) == {"client_id": [CID], "logout_uri": [BYE]}
    with pytest.raises(ConstructionFailure, match="logout_uri"):
        logout_url(PREFIX, client_id=CID, logout_uri=Sneaky("javascript:alert(1)"))


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(logout_module, raise_on_error=False)
    assert result.attempted >= 2
    assert result.failed == 0


# --- hostile inputs -------------------------------------------------------------------------

HOSTILE_URIS = [
    # schemes a browser acts on, however they are spelled
    "javascript:alert(1)", "JavaScript:alert(1)", "JAVASCRIPT://%0aalert(1)",
    " javascript:alert(1)", "javascript:alert(1) ", "\tjavascript:alert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "\x00javascript:alert(1)",
    "\x1fjavascript:alert(1)", "\u00a0javascript:alert(1)", "\u200bjavascript:alert(1)",
    "\ufeffjavascript:alert(1)", "\uff4aavascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "vbscript:msgbox(1)",
    "blob:https://app.example.com/0b1c", "about:blank", "ftp://evil.com/", "ws://evil.com/",
    "wss://evil.com/", "view-source:https://evil.com/", "intent://evil.com/?S.x=1",
    "x-safari-https://evil.com/", "mailto:someone", "chrome-extension://abc/",
    # http to anything but localhost
    "http://evil.com/", "HTTP://evil.com/", "http://localhost.evil.com/",
    "http://evil.com/?localhost", "http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost./",
    "http:localhost/", "http:/localhost/",
    # no authority, protocol-relative, relative
    "https:evil.com", "https:/evil.com", "//evil.com", "/\\evil.com", "/bye", "evil.com",
    "https://", "https:///bye", "https://:443/", "https://?x", "myapp:", "myapp://",
    # userinfo, backslashes, fragments
    "https://evil@app.example.com/", "https://user:pw@app.example.com/",
    "https://app.example.com@evil.com/", "https://app.example.com:443@evil.com/",
    "https://evil.com%2F@app.example.com/", "myapp://evil@host/",
    "https://app.example.com\\@evil.com", "https://app.example.com\\evil.com",
    "https:\\\\evil.com", "https://app.example.com/#frag", "https://app.example.com/cb#",
    "myapp://cb#x", "https://app.example.com/%23ok#no",
    # whitespace and invisible characters anywhere
    "https://app.example.com/ cb", "https://app.example.com/cb\n", "https://app.example.com/\r",
    "https://app.example.com/\u00a0", "https://app.example.com/\u2028",
    "https://app.example.com/\u202e", "https://app.example.com/\u200b",
    "https://app.example.com/\ud800", "https://app.example.com/\x7f",
    # hosts a browser would read differently, or that are not hosts
    "https://evil%2ecom/", "https://\uff45vil.com/", "https://app.example.com./",
    "https://0x7f000001/", "https://127.1/", "https://[::1]/", "https://-evil.com/",
    "https://app.example.com:99999/", "https://app.example.com:/", "https://app.example.com:+80/",
    "https://app.example.com:0/", "https://app.example.com:\uff18\uff10/",
    # one-letter schemes are Windows drives; absurd lengths
    "c:/Windows/System32", "C:/x", "https://app.example.com/" + "a" * 1024, "",
]


@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_hostile_logout_uri_is_refused(uri: str) -> None:
    with pytest.raises(ConstructionFailure, match="logout_uri"):
        logout_url(PREFIX, client_id=CID, logout_uri=uri)


@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_hostile_redirect_uri_is_refused(uri: str) -> None:
    with pytest.raises(ConstructionFailure, match="redirect_uri"):
        logout_url(PREFIX, client_id=CID, redirect_uri=uri, response_type="code")


HOSTILE_DOMAINS = [
    "evil.com/path", "https://x.example/logout", "https://x.example/?", "http://x.example",
    "HTTP://x.example", "ftp://x.example", "javascript://x.example", "//x.example",
    "https://user@x.example", "https://user:pw@x.example", "x.example?y", "x.example#y",
    "https://x.example?y", "https://x.example#y", "x y.example", " x.example", "x.example\n",
    "x.example\t", "x\x00.example", "x.example\\", "https://x.example\\", "", "https://",
    "https:///", "https://x.example:", "https://x.example:0", "https://x.example:65536",
    "https://x.example:-1", "https://x.example:+443", "x.example:443", "1.2.3.4",
    "https://127.0.0.1", "https://[::1]", "0x7f000001", "x.0x1f", "-x.example", "x-.example",
    "x..example", "x.example.", ".x.example", "a" * 64 + ".example", "x_y.example",
    "b\u00fccher.example", "\uff58.example", "x\u3002example", "https://x.example:8443/path",
    "javascript:alert(1)", ("a." * 127) + "com",
]


@pytest.mark.parametrize("domain", HOSTILE_DOMAINS)
def test_hostile_domain_is_refused(domain: str) -> None:
    with pytest.raises(ConstructionFailure, match="domain"):
        logout_url(domain, client_id=CID, logout_uri=BYE)


SIGN_IN: dict[str, Any] = {"redirect_uri": CB, "response_type": "code"}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "logout_uri .*or redirect_uri"),
    ({"logout_uri": None, "redirect_uri": None}, "logout_uri .*or redirect_uri"),
    ({"logout_uri": BYE, "redirect_uri": CB}, "not both"),
    ({"logout_uri": BYE, "redirect_uri": CB, "response_type": "code"}, "not both"),
    ({"logout_uri": BYE, "response_type": "code"}, "response_type .*needs redirect_uri"),
    ({"logout_uri": BYE, "scope": "openid"}, "scope .*needs redirect_uri"),
    ({"logout_uri": BYE, "state": "s"}, "state .*needs redirect_uri"),
    ({"redirect_uri": CB}, "needs response_type"),
    ({"redirect_uri": CB, "scope": "openid"}, "needs response_type"),
    ({**SIGN_IN, "response_type": "id_token"}, "response_type"),
    ({**SIGN_IN, "response_type": "CODE"}, "response_type"),
    ({**SIGN_IN, "response_type": "code "}, "response_type"),
    ({**SIGN_IN, "response_type": ""}, "response_type"),
    ({**SIGN_IN, "response_type": b"code"}, "response_type"),
    ({**SIGN_IN, "response_type": ["code"]}, "response_type"),
    ({**SIGN_IN, "scope": ""}, "scope"),
    ({**SIGN_IN, "scope": ()}, "scope"),
    ({**SIGN_IN, "scope": []}, "scope"),
    ({**SIGN_IN, "scope": "openid  email"}, "scope"),
    ({**SIGN_IN, "scope": " openid"}, "scope"),
    ({**SIGN_IN, "scope": "openid "}, "scope"),
    ({**SIGN_IN, "scope": "openid\temail"}, "scope"),
    ({**SIGN_IN, "scope": ("open id",)}, "scope"),
    ({**SIGN_IN, "scope": ("",)}, "scope"),
    ({**SIGN_IN, "scope": ("openid\x00",)}, "scope"),
    ({**SIGN_IN, "scope": ("openid", 3)}, "scope"),
    ({**SIGN_IN, "scope": ("op\u00e9nid",)}, "scope"),
    ({**SIGN_IN, "scope": ('a"b',)}, "scope"),
    ({**SIGN_IN, "scope": ("a\\b",)}, "scope"),
    ({**SIGN_IN, "scope": ("x" * 257,)}, "scope"),
    ({**SIGN_IN, "scope": ["s"] * 51}, "scope"),
    ({**SIGN_IN, "scope": b"openid"}, "scope"),
    ({**SIGN_IN, "scope": {"openid"}}, "scope"),
    ({**SIGN_IN, "scope": iter(["openid"])}, "scope"),
    ({**SIGN_IN, "scope": 3}, "scope"),
    ({**SIGN_IN, "state": ""}, "state"),
    ({**SIGN_IN, "state": "x" * 2049}, "state"),
    ({**SIGN_IN, "state": "a\nb"}, "state"),
    ({**SIGN_IN, "state": "a\x00b"}, "state"),
    ({**SIGN_IN, "state": "a\x1b[31m"}, "state"),
    ({**SIGN_IN, "state": "a\x85b"}, "state"),
    ({**SIGN_IN, "state": "a\u2028b"}, "state"),
    ({**SIGN_IN, "state": "a\ud800b"}, "state"),
    ({**SIGN_IN, "state": 3}, "state"),
    ({"logout_uri": b"https://app.example.com/"}, "logout_uri"),
    ({"logout_uri": 3}, "logout_uri"),
])
def test_hostile_parameter_combinations(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConstructionFailure, match=match):
        logout_url(PREFIX, client_id=CID, **kwargs)


@pytest.mark.parametrize("client_id", [
    "", "a" * 129, "abc-def", "abc def", "abc\n", "ab\u00e9", "ab\u0660", "abc/", "abc=",
    " abc", "\uff41bc", 123, None, b"abc",
])
def test_bad_client_id_is_refused(client_id: object) -> None:
    with pytest.raises(ConstructionFailure, match="client_id"):
        logout_url(PREFIX, client_id=client_id, logout_uri=BYE)  # type: ignore[arg-type]


@pytest.mark.parametrize("domain", [None, b"auth.example.com", 3])
def test_a_domain_that_is_not_a_str_is_refused(domain: object) -> None:
    with pytest.raises(ConstructionFailure, match="domain"):
        logout_url(domain, client_id=CID, logout_uri=BYE)  # type: ignore[arg-type]


def test_no_message_quotes_the_client_id_or_the_state() -> None:
    secret_id = "SECRETclientZq7-x"
    with pytest.raises(ConstructionFailure) as caught:
        logout_url(PREFIX, client_id=secret_id, logout_uri=BYE)
    assert "SECRETclient" not in str(caught.value)
    for state in ("SECRETstateZq7\n", "SECRETstateZq7" * 200):
        with pytest.raises(ConstructionFailure) as caught:
            logout_url(PREFIX, client_id=CID, state=state, **SIGN_IN)
        assert "SECRETstate" not in str(caught.value)
    with pytest.raises(ConstructionFailure) as caught:  # state with logout_uri
        logout_url(PREFIX, client_id=CID, logout_uri=BYE, state="SECRETstateZq7")
    assert "SECRETstate" not in str(caught.value)


def test_messages_name_the_scheme_but_not_the_uri() -> None:
    with pytest.raises(ConstructionFailure, match="javascript:") as caught:
        logout_url(PREFIX, client_id=CID, logout_uri="JavaScript:alertSECRET(1)")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ConstructionFailure, match=r"domain .* not ftp://"):
        logout_url("ftp://x.example", client_id=CID, logout_uri=BYE)


def test_uri_characters_are_those_of_cognitos_pattern_and_state_refuses_only_controls() -> None:
    """A URI takes exactly [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}] (less # and \\); state all but
    Cc, Cs, Zl and Zp. Tried on the first 2048 code points, every 61st after, and some picks."""
    base = "https://app.example.com/"
    picks = [0x180E, 0x200B, 0x200D, 0x2028, 0x2029, 0x202E, 0x3000, 0xD800, 0xDFFF, 0xE000,
             0xFEFF, 0xFFFD, 0xFFFF, 0xE0001, 0x10FFFF]
    for codepoint in [*range(2048), *range(2048, sys.maxunicode + 1, 61), *picks]:
        char = chr(codepoint)
        category = unicodedata.category(char)
        try:
            logout_url(PREFIX, client_id=CID, logout_uri=base + char)
        except ConstructionFailure:
            assert category[0] not in "LMSNP" or char in "#\\", hex(codepoint)
        else:
            assert category[0] in "LMSNP", hex(codepoint)
        try:
            logout_url(PREFIX, client_id=CID, state=char, **SIGN_IN)
        except ConstructionFailure:
            assert category in ("Cc", "Cs", "Zl", "Zp"), hex(codepoint)
        else:
            assert category not in ("Cc", "Cs", "Zl", "Zp"), hex(codepoint)


# --- property: a link or a ConstructionFailure, and a link is always safe ------------------

# The test's own list, independent of the module's.
NEVER = {"javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss",
         "intent", "view-source", "filesystem"}


ASCII = st.characters(codec="ascii")


def pieces(*fixed: str) -> st.SearchStrategy[str]:
    """Text built from plausible fragments and random characters."""
    fragment = st.one_of(
        st.sampled_from(fixed), st.sampled_from(fixed), st.text(ASCII, max_size=4),
        st.text(max_size=2),
        st.sampled_from(["/", ":", "@", "#", "\\", ".", "?", "//", " ", "\t", "%", "\x00",
                         "\u00a0", "\u200b", "localhost", "[::1]", "-", "x", "0"]))
    return st.lists(fragment, min_size=1, max_size=5).map("".join)


# Each parameter has valid values and wild ones; an example makes a few parameters wild and
# keeps the others valid, so links get built often and every wild value meets valid company.
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "domain": st.sampled_from([PREFIX, CUSTOM, f"https://{CUSTOM}/", "https://Auth.Ex.com:8443"]),
    "client_id": st.just(CID),
    "mode": st.sampled_from(["logout_uri", "redirect_uri"]),
    "uri": st.one_of(
        st.sampled_from([BYE, CB, "http://localhost:3000/cb", "myapp://out"]),
        st.sampled_from(["https://app.example.com", "com.example.app:/"]).flatmap(
            lambda base: pieces("/cb", "?a=b", "&", "=", "%2F").map(base.__add__))),
    "response_type": st.sampled_from(["code", "token"]),
    "scope": st.sampled_from([None, "openid email", ("openid", "profile")]),
    "state": st.one_of(st.none(), st.text(ASCII, min_size=1, max_size=20)),
}
WILD: dict[str, st.SearchStrategy[Any]] = {
    "domain": st.one_of(
        pieces("https://", "auth.example.com", "Auth", ".com", ":443", ":8443", "/"),
        pieces("https://", "http://", "auth.example.com", "x", "-", ".com", ":443", "/", "@"),
        st.text(max_size=40)),
    "client_id": st.one_of(st.text(ASCII, max_size=10), st.text(max_size=10)),
    "mode": st.sampled_from(["both", "neither"]),
    "uri": st.one_of(
        # a valid URI with something put in (or replacing a character) anywhere
        st.tuples(st.sampled_from([BYE, CB, "http://localhost:3000/cb", "myapp://out",
                                   "com.example.app:/cb"]),
                  st.integers(0, 30), st.integers(0, 1), pieces("@", "#", "\\", "evil.com")).map(
            lambda t: t[0][:t[1]] + t[3] + t[0][t[1] + t[2]:]),
        # scheme, separator, host, port and tail, each valid or not
        st.tuples(
            st.sampled_from(["https", "https", "HTTPS", "http", "http", "myapp", "myapp",
                             "com.example.app", "javascript", "JavaScript", " javascript",
                             "data", "file", "blob", "ws", "intent", "c", "1x", "my app", ""]),
            st.sampled_from(["://", "://", "://", ":", ":/", ":///", ":\\\\", "//"]),
            st.sampled_from(["app.example.com", "app.example.com", "localhost", "localhost",
                             "evil.com", "LocalHost", "localhost.evil.com",
                             "user@app.example.com", "", "127.0.0.1", "[::1]", "0x7f000001",
                             "ex\u00e4mple.com", "a..b", "x-.com"]),
            st.sampled_from(["", "", "", ":8080", ":0", ":", ":99999"]),
            st.one_of(st.just(""), pieces("/cb", "?a=b", "&", "=", "%2F"))).map("".join),
        pieces("https://", "http://", "HTTPS://", "javascript:", " javascript:", "data:",
               "file://", "myapp://", "//", "app.example.com", "localhost", "evil.com",
               ":8080", "/cb", "c:", "@"),
        st.text(max_size=40)),
    "response_type": st.sampled_from([None, "id_token", "CODE", ""]),
    "scope": st.one_of(st.text(max_size=20), st.lists(
        pieces("openid", "email", "profile"), max_size=3).map(tuple)),
    "state": st.text(max_size=30),
}


def expected_host(domain: str) -> str:
    rest = domain[len("https://"):] if domain.lower().startswith("https://") else domain
    return rest.split("/")[0].split(":")[0].lower()


def built_and_safe(domain: str, client_id: str, **kwargs: Any) -> bool:
    """Call logout_url: a ConstructionFailure (False), or a link that passes every check."""
    try:
        url = logout_url(domain, client_id=client_id, **kwargs)
    except ConstructionFailure as error:
        str(error).encode("utf-8")  # always printable and encodable
        return False
    assert url.isascii()
    assert all(char > " " for char in url)
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.hostname == expected_host(domain)
    assert parts.username is None
    assert parts.path == "/logout"
    assert parts.fragment == ""
    values = query(url)
    assert values["client_id"] == [client_id]
    (mode,) = {"logout_uri", "redirect_uri"} & values.keys()
    (target,) = values[mode]
    assert target == kwargs[mode]
    assert "#" not in target
    assert "\\" not in target
    assert not any(char.isspace() for char in target)
    scheme, colon, rest = target.partition(":")
    scheme = scheme.lower()
    assert colon
    assert re.fullmatch(r"[a-z][a-z0-9+.\-]*", scheme)
    assert scheme not in NEVER
    assert rest
    if scheme in ("http", "https"):  # a custom scheme's rest is the app's business
        target_parts = urlsplit(target)
        assert target_parts.scheme.lower() == scheme
        assert rest.startswith("//")
        assert target_parts.hostname
        assert target_parts.username is None
        if scheme == "http":
            assert target_parts.hostname == "localhost"
    if mode == "logout_uri":
        assert values.keys() == {"client_id", "logout_uri"}
    else:
        assert values["response_type"][0] in ("code", "token")
    return True


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), wild=st.sets(st.sampled_from(sorted(GOOD)), max_size=1),
       wild_uri=st.booleans())
def test_a_link_or_a_construction_failure_and_the_link_is_safe(
    data: st.DataObject, wild: set[str], wild_uri: bool,
) -> None:
    if wild_uri:
        wild.add("uri")
    drawn = {name: data.draw((WILD if name in wild else GOOD)[name], label=name)
             for name in sorted(GOOD)}
    mode, uri = drawn["mode"], drawn["uri"]
    kwargs = {name: drawn[name] for name in ("response_type", "scope", "state")}
    if mode == "logout_uri" and not wild & set(kwargs):
        kwargs = {}
    if mode in ("logout_uri", "both"):
        kwargs["logout_uri"] = uri
    if mode in ("redirect_uri", "both"):
        kwargs["redirect_uri"] = uri
    built_and_safe(drawn["domain"], drawn["client_id"], **kwargs)


@settings(max_examples=500, deadline=None)
@given(uri=WILD["uri"], sign_in=st.booleans())
def test_any_uri_gives_a_safe_link_or_a_construction_failure(uri: str, sign_in: bool) -> None:
    if sign_in:
        built_and_safe(PREFIX, CID, redirect_uri=uri, response_type="code", state="s")
    else:
        built_and_safe(PREFIX, CID, logout_uri=uri)
