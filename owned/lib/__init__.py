"""Hand-written additions to the generated client.

Everything here is ours (not generated) and is copied verbatim into the package by
`make generate` (see `files:` in generator-config.yaml):

- `client`: the `OauthApi` / `ApiClient` / `Configuration` the package exports;
- `transport`: the one module that owns HTTP: timeouts, retries, https-only, redacted logging;
- `errors`: the exception family every failure of `oauth_token` belongs to;
- `redact`: how secrets are hidden from logs, reprs and exception texts;
- `model_base`: `SpecModel`, the base of every generated model (lossless serializers, masked displays);
- `tokens`: `Token`, a token response with absolute expiry times;
- `stores`: the `TokenStore` protocol (and its optional `RefreshLease`), `MemoryTokenStore`
  and `FileTokenStore`;
- `postgres_store`: `PostgresTokenStore`, many machines sharing tokens (extra `[postgres]`);
- `session`: `TokenSession`, a valid access token on demand, refreshed ahead of expiry;
- `authorize`: `authorization_url` and `code_from_callback` (the consent screen and its redirect);
- `cli` and `loopback`: the `pinterest-oauth` command line and its one-shot redirect receiver;
- `calls`: what both clients do around their transport (prepare a call, parse its answer);
- `aio_transport`, `aio_client`, `aio_session`: the async client and session
  (`pinterest_oauth.aio`, the `async` extra: httpx2).
"""
