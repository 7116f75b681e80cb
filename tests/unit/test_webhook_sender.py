"""Sender: webhook POSTs on kept-alive connections, against real local servers (plain, TLS,
through a proxy) that close, refuse and misbehave as receivers do."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifier import sender as sender_module
from services.notifier.sender import MAX_BODY_READ, Sender, SendFailed, Unusable
from tests.support.scripted import Answer, Request, ScriptedServer

OK = Answer(200)
BODY = b'{"alert": 1}'


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    sender_module._route.cache_clear()  # routes are cached with the proxy they were given
    yield
    sender_module._route.cache_clear()


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(timeout_s=2.0)
    yield s
    s.close()


def _ok(request: Request) -> Answer:
    return OK


def test_posts_share_one_kept_alive_connection(sender: Sender) -> None:
    with ScriptedServer(_ok) as server:
        assert [sender.post(f"{server.url}/hook", BODY, {}) for _ in range(3)] == [200] * 3
    assert server.connections == 1
    assert [(r.method, r.target, r.body) for r in server.requests] == [("POST", "/hook", BODY)] * 3
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"


def test_a_connection_the_receiver_closed_while_idle_is_replaced(sender: Sender) -> None:
    with ScriptedServer(_ok) as server:
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
        server.close_idle()
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
    assert server.connections == 2
    assert len(server.requests) == 2  # found closed before use: nothing was sent twice


def test_a_reused_connection_that_fails_unanswered_is_tried_once_more(sender: Sender) -> None:
    def script(request: Request) -> Answer:  # the kept connection dies on its second request
        return Answer(0) if len(server.requests) == 2 else OK

    with ScriptedServer(script) as server:
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
    assert [r.connection for r in server.requests] == [1, 1, 2]


def test_a_new_connection_that_fails_unanswered_is_not_tried_again(sender: Sender) -> None:
    with ScriptedServer(lambda request: Answer(0)) as server, pytest.raises(SendFailed):
        sender.post(f"{server.url}/hook", BODY, {})
    assert len(server.requests) == 1


@pytest.mark.parametrize("answer", [Answer(200, close=True),
                                    Answer(200, body=b"x" * (MAX_BODY_READ + 1))],
                         ids=["Connection: close", "an answer too long to drain"])
def test_a_connection_that_cannot_be_reused_is_closed(sender: Sender, answer: Answer) -> None:
    with ScriptedServer(lambda request: answer) as server:
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
    assert [r.connection for r in server.requests] == [1, 2]


def test_an_answer_body_is_drained_so_the_connection_serves_again(sender: Sender) -> None:
    with ScriptedServer(lambda request: Answer(200, body=b'{"ok": true}')) as server:
        assert [sender.post(f"{server.url}/hook", BODY, {}) for _ in range(2)] == [200, 200]
    assert server.connections == 1


def test_each_thread_has_its_own_connection(sender: Sender) -> None:
    with ScriptedServer(_ok) as server:
        threads = [threading.Thread(target=sender.post, args=(f"{server.url}/h", BODY, {}))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sender.post(f"{server.url}/h", BODY, {}) == 200  # this thread's: a third
    assert server.connections == 3


def test_close_closes_every_connection(sender: Sender) -> None:
    with ScriptedServer(_ok) as server:
        sender.post(f"{server.url}/hook", BODY, {})
        sender.close()
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
    assert server.connections == 2


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "http:///hook", "http://h:99999/"])
def test_an_unusable_url_fails_without_naming_it(sender: Sender, url: str) -> None:
    with pytest.raises(Unusable) as failed:
        sender.post(url, BODY, {})
    assert "127.0.0.1" not in str(failed.value) and "h:" not in str(failed.value)


def test_an_http_proxy_from_the_environment_gets_the_absolute_url(
        sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer(_ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert sender.post("http://case-system.test:8080/hook?x=1", BODY, {}) == 200
    [request] = proxy.requests
    assert request.target == "http://case-system.test:8080/hook?x=1"
    assert request.headers["host"] == "case-system.test:8080"


def test_a_proxys_credentials_go_to_the_proxy(sender: Sender,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer(_ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://signpost:p%40ss@127.0.0.1:{proxy.port}")
        assert sender.post("http://case-system.test/hook", BODY, {}) == 200
    assert proxy.requests[0].headers["proxy-authorization"] == (
        "Basic " + base64.b64encode(b"signpost:p@ss").decode())


def test_no_proxy_sends_straight_to_the_receiver(sender: Sender,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer(_ok) as proxy, ScriptedServer(_ok) as receiver:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert sender.post(f"{receiver.url}/hook", BODY, {}) == 200
    assert (len(proxy.requests), len(receiver.requests)) == (0, 1)


def test_an_https_proxy_is_unusable(sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "https://proxy.test:3128")
    with pytest.raises(Unusable):
        sender.post("http://case-system.test/hook", BODY, {})


# --- TLS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (its PEM, its key's PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signpost test receiver")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_pem, key_pem = folder / "cert.pem", folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


def _tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_https_to_a_receiver_the_machine_trusts(certificate: tuple[Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the trust store, as a CA
    sender = Sender(timeout_s=2.0)
    with ScriptedServer(_ok, tls=_tls(certificate)) as server:
        assert [sender.post(f"{server.url}/hook", BODY, {}) for _ in range(2)] == [200, 200]
    sender.close()
    assert server.connections == 1 and server.requests[0].body == BODY


def test_https_to_a_receiver_it_does_not_trust_fails(certificate: tuple[Path, Path],
                                                     sender: Sender) -> None:
    with ScriptedServer(_ok, tls=_tls(certificate)) as server, pytest.raises(SendFailed):
        sender.post(f"{server.url}/hook", BODY, {})
    assert server.requests == []


def _tunnelled(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
               credentials: str = "") -> tuple[ScriptedServer, _ConnectProxy]:
    """One POST to a TLS receiver the machine trusts, through a CONNECT proxy named by
    HTTPS_PROXY (with `credentials`, "user:password@", in its URL); (receiver, proxy)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    sender = Sender(timeout_s=2.0)
    with ScriptedServer(_ok, tls=_tls(certificate)) as server, _ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{credentials}127.0.0.1:{proxy.port}")
        assert sender.post(f"{server.url}/hook", BODY, {}) == 200
    sender.close()
    return server, proxy


def test_https_through_an_http_proxy_is_tunnelled(certificate: tuple[Path, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server, proxy = _tunnelled(certificate, monkeypatch)
    assert proxy.tunnels == [f"127.0.0.1:{server.port}"]
    assert server.requests[0].body == BODY
    assert b"proxy-authorization" not in proxy.heads[0].lower()


def test_a_tunnels_credentials_go_to_the_proxy_alone(certificate: tuple[Path, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server, proxy = _tunnelled(certificate, monkeypatch, credentials="signpost:secret@")
    assert proxy.heads[0].lower().count(b"proxy-authorization: basic ") == 1
    assert "proxy-authorization" not in server.requests[0].headers


class _ConnectProxy:
    """A real HTTP proxy that only tunnels (CONNECT host:port), as for https."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.heads: list[bytes] = []  # each CONNECT request, as it came
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> _ConnectProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        target = head.split(b" ")[1].decode()
        self.heads.append(head)
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        sink.close()
